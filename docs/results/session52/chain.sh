#!/usr/bin/env bash
# Session 52's chain: the third algorithm-code and competition-math stores (scripts/regen-smollm2-wide.sh),
# their features into the q8 cache, DSpark-1q (configs/dspark1q-smollm2-135m-code3.toml) on it, its carry,
# then Table 1 at T = 0 for DSpark-1q and DSpark-1p (shipped) in one process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
R=docs/results/session52
echo "== regen $(date -u +%H:%M:%S)"
scripts/regen-smollm2-wide.sh
for s in algorithm-code-3 competition-math-3; do
  echo "== cache $s $(date -u +%H:%M:%S)"
  deepspec cache --data data/regen/smollm2-135m-$s --taps 1,8,14,20,27 --max-len 1024 --dtype q8 \
    --out "$CACHE" --threads 2 --no-progress
done
echo "== train $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1q-smollm2-135m-code3.toml data.features="$CACHE"
deepspec train --config configs/dspark1q-smollm2-135m-code3.toml --write-carry
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
D=(--drafter runs/dspark1q-smollm2-135m-code3/final --drafter runs/dspark1p-smollm2-135m-writing/final)
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" "${SETS[@]}" --out runs/s52-eval-t0 > runs/s52-eval-t0.log 2>&1
cp runs/s52-eval-t0/results.json $R/table1-t0-1q.json
echo "== done $(date -u +%H:%M:%S)"
