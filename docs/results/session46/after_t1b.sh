#!/bin/bash
# Session 46: after after_1j.sh, DFlash-T1b (DFlash-T1 + two epochs of T = 1 answers, as DSpark-1j),
# then Table 1 at T = 1 for it beside DFlash, three seeds (the seeds after_1j.sh ran).
cd /work/main
R=docs/results/session46
while pgrep -f "after_1j.sh" > /dev/null; do sleep 20; done
STEPS="train-dflash-t1b" scripts/train-smollm2-24k.sh
DFB=runs/dflash-smollm2-135m-t1b/final
[ -e "$DFB/model.safetensors" ] || { echo "no $DFB"; exit 1; }
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
for seed in 0 1 2; do
  echo "== T1 seed $seed $(date -u +%H:%M:%S)"
  deepspec eval --threads 2 --batch 8 --temperature 1 --max-samples 20 --max-new-tokens 256 --seed $seed \
    --drafter $DFB --drafter data/carry/dflash-smollm2-135m-24k \
    "${SETS[@]}" --out runs/s46-eval-t1b-seed$seed > runs/s46-eval-t1b-seed$seed.log 2>&1
  cp runs/s46-eval-t1b-seed$seed/results.json $R/table1-t1-dflash-t1b-seed$seed.json
done
echo "== done $(date -u +%H:%M:%S)"
