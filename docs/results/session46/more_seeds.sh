#!/bin/bash
# Session 46: Table 1 at T = 1, seeds 3 and 4, DSpark-1j, DFlash-T1b and DFlash in one process per seed
cd /work/main
R=docs/results/session46
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
for seed in 3 4; do
  echo "== T1 seed $seed $(date -u +%H:%M:%S)"
  deepspec eval --threads 2 --batch 8 --temperature 1 --max-samples 20 --max-new-tokens 256 --seed $seed \
    --drafter runs/dspark1j-smollm2-135m-t1/final --drafter runs/dflash-smollm2-135m-t1b/final \
    --drafter data/carry/dflash-smollm2-135m-24k \
    "${SETS[@]}" --out runs/s46-eval-t1-seed$seed > runs/s46-eval-t1-seed$seed.log 2>&1
  cp runs/s46-eval-t1-seed$seed/results.json $R/table1-t1-seed$seed.json
done
echo "== done $(date -u +%H:%M:%S)"
