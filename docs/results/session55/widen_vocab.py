"""A DSpark checkpoint with a wider draft vocabulary, no training: the old draft tokens kept, the next
most frequent target tokens of the training stores' answers added; the Markov head's output rows of the
old tokens copied, the new ones zero (the draft head is the target's own head rows).

    python docs/results/session55/widen_vocab.py SRC_DIR OUT_DIR SIZE [SIZE...]   (from the repository root)
"""
import gzip, json, glob, shutil, sys
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file
import dspark
from dspark.drafters import vocab as dvocab
from dspark.models.loader import load_target

src, out = Path(sys.argv[1]), Path(sys.argv[2])
sizes = [int(s) for s in sys.argv[3:]]
w = load_file(src / "model.safetensors")
cfg = json.loads((src / "config.json").read_text())
tok = load_target("smollm2-135m", tokenizer=True).tokenizer
stores = ["writing-chat", "algorithm-code-2", "competition-math-2", "extra-8k", "t0-heldout"]
conversations = [json.loads(line) for s in stores
                 for f in sorted(glob.glob(f"data/regen/smollm2-135m-{s}/shard-*.jsonl.gz"))
                 for line in gzip.open(f, "rt")]
answers = (tok.encode(turn["content"], add_special_tokens=False)
           for r in conversations for turn in r["conversations"] if turn.get("role") == "assistant")
counts = dvocab.count_tokens(answers, w["t2d"].numel())
n = len(conversations)
print(n, "conversations,", int(counts.sum()), "answer tokens")
old_ids = dvocab.target_ids(w["d2t"])
for size in sizes:
    c = counts.double().clone()
    c[old_ids] = float("inf")                      # the old draft vocabulary first
    d2t, t2d = dvocab.build_vocab_mapping(c, size)
    new_ids = dvocab.target_ids(d2t)
    w2_old = w["markov_head.markov_w2.weight"]
    w2 = torch.zeros(size, w2_old.shape[1], dtype=w2_old.dtype)
    kept = w["t2d"][new_ids]                       # the new draft tokens that were old ones
    old_index = torch.cumsum(w["t2d"].long(), 0) - 1   # an old draft index is a prefix count of t2d
    w2[kept] = w2_old[old_index[new_ids[kept]]]
    nw = dict(w)
    nw["d2t"], nw["t2d"], nw["markov_head.markov_w2.weight"] = d2t, t2d, w2
    d = out.parent / f"{out.name}-{size}"
    d.mkdir(parents=True, exist_ok=True)
    c2 = json.loads(json.dumps(cfg)); c2["config"]["draft_vocab_size"] = size
    (d / "config.json").write_text(json.dumps(c2, indent=2))
    save_file(nw, d / "model.safetensors")
    if (src / "calibration.json").exists():
        shutil.copy(src / "calibration.json", d / "calibration.json")
    cov = float(counts[new_ids].sum() / counts.sum())
    print(size, "coverage of the stores' answer tokens", round(cov, 4), "->", d)
print(old_ids.numel(), "coverage", round(float(counts[old_ids].sum() / counts.sum()), 4))
