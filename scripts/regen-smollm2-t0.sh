#!/usr/bin/env bash
# Greedy answers (T = 0) for issue 15's T = 0 goal (macro tau >= 2.5 on Table 1; DSpark-1f: 2.235).
# Every SmolLM2 drafter so far trained on answers sampled at T 0.7, top-p 0.8, top-k 20 (or at T = 1),
# while greedy decoding leads the target into its own most likely continuations. T = 1 answers lifted
# Table 1 at T = 1 by 6.5 % over four epochs (sessions 32-46); these stores asked whether greedy
# answers do the same for T = 0. Session 47's pilot (DSpark-1k, the first 2,000): no, not on these
# templated prompts (Table 1 2.237 against 2.235). The held-out store also gives decoded tau offline:
# `[logging] eval_walk = true` replays greedy decoding on it (tau_walk, README).
#
# Two stores, each resumable (rerun on any machine: it continues after the last committed shard);
# commit them as they grow:
#   data/regen/smollm2-135m-t0-heldout   the prompts of the 24k store's last 201 conversations (the
#                                        held-out 200 of every DSpark run, as t1-heldout): a greedy
#                                        held-out set
#   data/regen/smollm2-135m-t0-8k        a greedy answer to the extra-8k prompts (templated code and
#                                        math), in their order; LIMIT=N stops after N conversations
#
#   LIMIT=2000 scripts/regen-smollm2-t0.sh
source "$(dirname "$0")/common.sh"
ensure_prompts_24k
LIMIT=${LIMIT:-8000}
GREEDY=(--temperature 0 --top-p 1 --top-k 0 --max-new-tokens 512 --threads "$THREADS")
# ids get "-t0" appended: a conversation id names one answer, and these prompts are answered already
# in the 24k and extra-8k stores (the trainer refuses an id found in two stores, and the feature
# cache keeps one entry per id)
PROMPTS_24K=$PROMPTS_24K python - <<'EOF'
import json, os
from deepspec.data.shards import iter_rows
last = set([row["id"] for _, row in iter_rows("data/regen/smollm2-135m-24k")][-201:])
rows = [json.loads(line) for line in open(os.environ["PROMPTS_24K"])]
extra = [json.loads(line) for line in open("data/prompts/train-extra-8k.jsonl")]
for out, keep in (("runs/t0-heldout-prompts.jsonl", [r for r in rows if r["id"] in last]),
                  ("runs/t0-8k-prompts.jsonl", extra)):
    with open(out, "w") as f:
        f.writelines(json.dumps({**r, "id": r["id"] + "-t0"}, ensure_ascii=False) + "\n" for r in keep)
EOF
regen_store runs/t0-heldout-prompts.jsonl data/regen/smollm2-135m-t0-heldout 100 "${GREEDY[@]}"
regen_store runs/t0-8k-prompts.jsonl data/regen/smollm2-135m-t0-8k 500 --limit "$LIMIT" "${GREEDY[@]}"
