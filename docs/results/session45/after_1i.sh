#!/bin/bash
# Session 45: after DSpark-1i and DFlash-T1: Table 1 at T = 1 (two seeds, the drafters before and
# after T = 1 training in one process), T = 0 for DSpark-1i, its held-out score on T 0.7 answers, T 0.7
cd /work/main
R=docs/results/session45
mkdir -p $R
D1I=runs/dspark1i-smollm2-135m-t1/final
DFT=runs/dflash-smollm2-135m-t1/final
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
for seed in 0 1; do
  echo "== T1 seed $seed $(date -u +%H:%M:%S)"
  deepspec eval --threads 2 --batch 8 --temperature 1 --max-samples 20 --max-new-tokens 256 --seed $seed \
    --drafter $D1I --drafter data/carry/dspark1g-smollm2-135m-t1 --drafter $DFT --drafter data/carry/dflash-smollm2-135m-24k \
    "${SETS[@]}" --out runs/eval-t1-seed$seed > runs/eval-t1-seed$seed.log 2>&1
  cp runs/eval-t1-seed$seed/results.json $R/table1-t1-seed$seed.json
done
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  --drafter $D1I "${SETS[@]}" --out runs/eval-t0 > runs/eval-t0.log 2>&1
cp runs/eval-t0/results.json $R/table1-t0-dspark1i.json
echo "== heldout T0.7 $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1i-smollm2-135m-t1.toml --eval-only 'data.paths=["data/regen/smollm2-135m-24k"]' data.holdout=200 data.features=online > $R/heldout-t07-dspark1i.log 2>&1
echo "== T0.7 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0.7 --top-p 0.9 --max-samples 20 --max-new-tokens 256 --seed 0 \
  --drafter $D1I --drafter data/carry/dspark1f-smollm2-135m-32k "${SETS[@]}" --out runs/eval-t07 > runs/eval-t07.log 2>&1
cp runs/eval-t07/results.json $R/table1-t07-seed0.json
echo "== done $(date -u +%H:%M:%S)"
