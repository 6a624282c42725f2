#!/usr/bin/env bash
# Session 49's second chain, after the first (pid $1): the algorithm-code store answered
# (scripts/regen-smollm2-wide.sh: the earlier stores are complete and skipped), its features into the
# q8 cache, DSpark-1n on it (configs/dspark1n-smollm2-135m-algo.toml), then Table 1 at T = 0 for
# DSpark-1n, DSpark-1m and DSpark-1f (shipped) in one process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
R=docs/results/session49
while kill -0 "$1" 2>/dev/null; do sleep 20; done
echo "== regen $(date -u +%H:%M:%S)"
scripts/regen-smollm2-wide.sh
echo "== cache $(date -u +%H:%M:%S)"
deepspec cache --data data/regen/smollm2-135m-algorithm-code --taps 1,8,14,20,27 --max-len 1024 --dtype q8 \
  --out "$CACHE" --threads 2 --no-progress
echo "== train $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1n-smollm2-135m-algo.toml data.features="$CACHE"
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
D=(--drafter runs/dspark1n-smollm2-135m-algo/final --drafter runs/dspark1m-smollm2-135m-math/final
   --drafter data/carry/dspark1f-smollm2-135m-32k)
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" "${SETS[@]}" --out runs/s49-eval2-t0 > runs/s49-eval2-t0.log 2>&1
cp runs/s49-eval2-t0/results.json $R/table1-t0-1n.json
echo "== done $(date -u +%H:%M:%S)"
