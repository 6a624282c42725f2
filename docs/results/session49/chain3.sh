#!/usr/bin/env bash
# Session 49's third step, after the second chain (pid $1): Table 1 at T = 1 (seed 0) for DSpark-1n,
# DSpark-1m and DSpark-1f (shipped) in one process.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=docs/results/session49
while kill -0 "$1" 2>/dev/null; do sleep 20; done
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
D=(--drafter runs/dspark1n-smollm2-135m-algo/final --drafter runs/dspark1m-smollm2-135m-math/final
   --drafter data/carry/dspark1f-smollm2-135m-32k)
echo "== T1 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 1 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" "${SETS[@]}" --out runs/s49-eval2-t1 > runs/s49-eval2-t1.log 2>&1
cp runs/s49-eval2-t1/results.json $R/table1-t1.json
echo "== done $(date -u +%H:%M:%S)"
