"""Session 47: heldout_first256.py's file split by the prompts' domain (chat, code, math) into
runs/s47-heldout-256-<domain>.jsonl, and by source and domain into
runs/s47-heldout-256-src-<source>-<domain>.jsonl, to score each with
`deepspec train --config configs/dspark1f-smollm2-135m-32k.toml --eval-only 'data.paths=[]'
'data.tokenized=["FILE"]' data.limit=0 data.holdout=N data.max_len=2048 data.features=online
logging.eval_walk=true`."""
import collections
import json

from deepspec.data.shards import iter_rows

meta = {row["id"]: (row["source"], row["domain"]) for _, row in iter_rows("data/regen/smollm2-135m-t0-heldout")}
by = collections.defaultdict(list)
for line in open("runs/s47-heldout-256.jsonl"):
    source, domain = meta[json.loads(line)["id"]]
    by[domain].append(line)
    by[f"src-{source}-{domain}"].append(line)
for name, lines in sorted(by.items()):
    with open(f"runs/s47-heldout-256-{name}.jsonl", "w") as f:
        f.writelines(lines)
    print(name, len(lines))
