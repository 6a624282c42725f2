#!/usr/bin/env bash
# Session 48: Table 1 for DSpark-1l against DSpark-1f in one process, at T = 0 and at T = 1 (seed 0),
# after the chain (pid $1) ends.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=docs/results/session48
while kill -0 "$1" 2>/dev/null; do sleep 20; done
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
D=(--drafter runs/dspark1l-smollm2-135m-wide/final --drafter data/carry/dspark1f-smollm2-135m-32k)
for T in 0 1; do
  echo "== T$T $(date -u +%H:%M:%S)"
  deepspec eval --threads 2 --batch 8 --temperature $T --max-samples 20 --max-new-tokens 256 --seed 0 \
    "${D[@]}" "${SETS[@]}" --out runs/s48-eval-t$T > runs/s48-eval-t$T.log 2>&1
  cp runs/s48-eval-t$T/results.json $R/table1-t$T.json
done
echo "== done $(date -u +%H:%M:%S)"
