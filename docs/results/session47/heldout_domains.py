"""Session 47: heldout_first256.py's file split by the prompts' domain (chat, code, math) into
runs/s47-heldout-256-<domain>.jsonl, to score each with --eval-only logging.eval_walk=true."""
import collections
import json

from deepspec.data.shards import iter_rows

domain = {row["id"]: row["domain"] for _, row in iter_rows("data/regen/smollm2-135m-t0-heldout")}
by = collections.defaultdict(list)
for line in open("runs/s47-heldout-256.jsonl"):
    by[domain[json.loads(line)["id"]]].append(line)
for d, lines in sorted(by.items()):
    with open(f"runs/s47-heldout-256-{d}.jsonl", "w") as f:
        f.writelines(lines)
    print(d, len(lines))
