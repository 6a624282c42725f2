#!/usr/bin/env bash
# Session 52: Table 1 at T = 1 (three seeds) for the shipped DSpark-1p and DFlash (session 46's
# comparator, data/carry/dflash-smollm2-135m-24k), one process per seed.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=docs/results/session52
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
for seed in 0 1 2; do
  echo "== T1 seed $seed $(date -u +%H:%M:%S)"
  deepspec eval --threads 2 --batch 8 --temperature 1 --max-samples 20 --max-new-tokens 256 --seed $seed \
    --drafter checkpoints/dspark-smollm2-135m --drafter data/carry/dflash-smollm2-135m-24k \
    "${SETS[@]}" --out runs/s52-eval-t1-seed$seed > runs/s52-eval-t1-seed$seed.log 2>&1
  cp runs/s52-eval-t1-seed$seed/results.json $R/table1-t1-seed$seed.json
done
echo "== done $(date -u +%H:%M:%S)"
