#!/usr/bin/env bash
# Session 49's background chain: DSpark-1m (configs/dspark1m-smollm2-135m-math.toml) on the q8 cache,
# then Table 1 at T = 0 for DSpark-1m, DSpark-1l and DSpark-1f (shipped) in one process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
R=docs/results/session49
echo "== train $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1m-smollm2-135m-math.toml data.features="$CACHE"
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
D=(--drafter runs/dspark1m-smollm2-135m-math/final --drafter data/carry/dspark1l-smollm2-135m-wide
   --drafter data/carry/dspark1f-smollm2-135m-32k)
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" "${SETS[@]}" --out runs/s49-eval-t0 > runs/s49-eval-t0.log 2>&1
cp runs/s49-eval-t0/results.json $R/table1-t0.json
echo "== done $(date -u +%H:%M:%S)"
