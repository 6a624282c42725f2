#!/usr/bin/env bash
# Answers sampled at T = 1 (no top-p, no top-k) for issue 15's T = 1 goal (DSpark / DFlash >= 1.15 on
# Table 1). The 24k and extra stores were answered at T 0.7, top-p 0.8, top-k 20, so a drafter trained
# on them never sees the flatter, wandering contexts that T = 1 sampling leads the target into.
# Teacher-forced on the same 200 held-out prompts (session 30, `deepspec train --eval-only`), DSpark-1e
# scores tau_sim 2.54 on their T 0.7 answers and 1.78 on T = 1 answers, DFlash 2.02 and 1.63: the
# ratio falls from 1.26x to 1.10x, near Table 1's ~1.07x at T = 1.
#
# Two stores, each resumable (rerun on any machine: it continues after the last committed shard);
# commit them as they grow:
#   data/regen/smollm2-135m-t1-heldout   the prompts of the 24k store's last 201 conversations (the
#                                        held-out 200 of every DSpark-1c..1f run, plus one whose prompt
#                                        fills data.max_len, so it never loads): a T = 1 held-out set
#   data/regen/smollm2-135m-t1-8k        a second answer to the first 8,000 prompts of the 24k set (chat,
#                                        math and code as the whole set mixes them; none held out)
#
#   scripts/regen-smollm2-t1.sh      # ~7 min, then ~2.7 h on 2 cores (~3.9 M answer tokens, ~490 a
#                                    # conversation, at ~400-420/s measured in sessions 30-31 on an
#                                    # AMX Xeon, ~350/s on an AVX-512 EPYC in session 32)
#   deepspec train --config configs/dspark1e-smollm2-135m-32k.toml --eval-only \
#     'data.paths=["data/regen/smollm2-135m-t1-heldout"]' data.holdout=200 data.features=online
#
# A training config that reads the 8k store lists it first in [data] paths, so its held-out 200 (the
# last loaded) stay the 24k store's.
source "$(dirname "$0")/common.sh"
ensure_prompts_24k
SAMPLING=(--temperature 1 --top-p 1 --top-k 0 --seed 2 --max-new-tokens 512 --threads "$THREADS")
# The prompts keep their ids with "-t1" appended: a conversation id names one answer, and these are
# prompts that the 24k store has answered already (the trainer refuses an id found in two stores,
# and the feature cache keeps one entry per id).
PROMPTS_24K=$PROMPTS_24K python - <<'EOF'
import json, os
from deepspec.data.shards import iter_rows
last = set([row["id"] for _, row in iter_rows("data/regen/smollm2-135m-24k")][-201:])
rows = [row for _, row in iter_rows(os.environ["PROMPTS_24K"])]
for out, keep in (("runs/t1-heldout-prompts.jsonl", [r for r in rows if r["id"] in last]),
                  ("runs/t1-8k-prompts.jsonl", rows[:8000])):
    with open(out, "w") as f:
        f.writelines(json.dumps({**r, "id": r["id"] + "-t1"}, ensure_ascii=False) + "\n" for r in keep)
EOF
regen_store runs/t1-heldout-prompts.jsonl data/regen/smollm2-135m-t1-heldout 100 "${SAMPLING[@]}"
regen_store runs/t1-8k-prompts.jsonl data/regen/smollm2-135m-t1-8k 500 "${SAMPLING[@]}"
