#!/usr/bin/env bash
# Session 50's chain: DSpark-1o (configs/dspark1o-smollm2-135m-algo2.toml) on the q8 cache, its carry,
# then Table 1 at T = 0 for DSpark-1o and DSpark-1n in one process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
R=docs/results/session50
echo "== train $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1o-smollm2-135m-algo2.toml data.features="$CACHE"
deepspec train --config configs/dspark1o-smollm2-135m-algo2.toml --write-carry
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
D=(--drafter runs/dspark1o-smollm2-135m-algo2/final --drafter runs/dspark1n-smollm2-135m-algo/final)
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" "${SETS[@]}" --out runs/s50-eval-t0 > runs/s50-eval-t0.log 2>&1
cp runs/s50-eval-t0/results.json $R/table1-t0-1o.json
echo "== done $(date -u +%H:%M:%S)"
