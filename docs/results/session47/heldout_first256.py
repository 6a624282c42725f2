"""Session 47: the held-out greedy answers cut to their first turn's first 256 answer tokens (Table 1's
length), as a pre-tokenized file, to split the gap between held-out tau_walk (512 tokens, the 24k
prompt mix) and Table 1's (256 tokens, benchmark prompts) into length and prompts."""
import json
import sys

from deepspec.data.tokenize import load_tokenized
from dspark.models.loader import load_target

target = load_target("smollm2-135m")
samples = load_tokenized("data/regen/smollm2-135m-t0-heldout", target.tokenizer, 2048)
with open(sys.argv[1], "w") as f:
    for s in samples:
        mask = list(s.loss_mask)
        start = mask.index(1)
        end = start
        while end + 1 < len(mask) and mask[end + 1] and end + 1 - start < 256:
            end += 1
        f.write(json.dumps({"id": s.id, "input_ids": list(s.input_ids[:end + 1]), "loss_mask": mask[:end + 1]}) + "\n")
print(len(samples), "samples")
