#!/bin/bash
# Session 46: once DSpark-1j has trained, Table 1 at T = 1 (three seeds; DSpark-1j, DSpark-1i and
# DFlash in one process per seed) and T = 0 for DSpark-1j.
cd /work/main
R=docs/results/session46
D1J=runs/dspark1j-smollm2-135m-t1/final
while pgrep -f "deepspec train --config configs/dspark1j" > /dev/null; do sleep 20; done
[ -e "$D1J/model.safetensors" ] || { echo "no $D1J"; exit 1; }
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
for seed in 0 1 2; do
  echo "== T1 seed $seed $(date -u +%H:%M:%S)"
  deepspec eval --threads 2 --batch 8 --temperature 1 --max-samples 20 --max-new-tokens 256 --seed $seed \
    --drafter $D1J --drafter data/carry/dspark1i-smollm2-135m-t1 --drafter data/carry/dflash-smollm2-135m-24k \
    "${SETS[@]}" --out runs/s46-eval-t1-seed$seed > runs/s46-eval-t1-seed$seed.log 2>&1
  cp runs/s46-eval-t1-seed$seed/results.json $R/table1-t1-seed$seed.json
done
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  --drafter $D1J "${SETS[@]}" --out runs/s46-eval-t0 > runs/s46-eval-t0.log 2>&1
cp runs/s46-eval-t0/results.json $R/table1-t0-dspark1j.json
echo "== done $(date -u +%H:%M:%S)"
