#!/usr/bin/env bash
# Session 51's chain: the writing-chat store's features into the q8 cache, DSpark-1p
# (configs/dspark1p-smollm2-135m-writing.toml) on it, its carry, then Table 1 at T = 0 for DSpark-1p
# and DSpark-1o (shipped) in one process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
R=docs/results/session51
echo "== cache $(date -u +%H:%M:%S)"
deepspec cache --data data/regen/smollm2-135m-writing-chat --taps 1,8,14,20,27 --max-len 1024 --dtype q8 \
  --out "$CACHE" --threads 2 --no-progress
echo "== train $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1p-smollm2-135m-writing.toml data.features="$CACHE"
deepspec train --config configs/dspark1p-smollm2-135m-writing.toml --write-carry
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
D=(--drafter runs/dspark1p-smollm2-135m-writing/final --drafter runs/dspark1o-smollm2-135m-algo2/final)
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" "${SETS[@]}" --out runs/s51-eval-t0 > runs/s51-eval-t0.log 2>&1
cp runs/s51-eval-t0/results.json $R/table1-t0-1p.json
echo "== done $(date -u +%H:%M:%S)"
