#!/bin/bash
# session 56: DSpark-1p trained on for half an epoch with position_decay 2 (slot weights 1, 0.61, 0.37, ...
# instead of 1, 0.78, 0.61, ...), then Table 1 at T=0 (as run: from a copy of src/ in /tmp/s56/root/src)
cd /work/main
export PYTHONPATH=/tmp/s56/root/src
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
echo "start $(date -u +%T)"
python -m deepspec.cli train --config configs/dspark1p-smollm2-135m-writing.toml data.features=$CACHE \
  out_dir=runs/dspark1u-smollm2-135m-decay2 init_from=data/carry/dspark1p-smollm2-135m-writing \
  loss.position_decay=2.0 schedule.total_steps=484 logging.eval_every=242 logging.carry_dir= > runs/dspark1u-train.log 2>&1
echo "train exited $? $(date -u +%T)"
D=()
for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do D+=(--data "../shared/eval_datasets/$s.jsonl"); done
python -m deepspec.cli eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" --drafter runs/dspark1u-smollm2-135m-decay2/final --out runs/eval-dspark1u-t0 > runs/eval-dspark1u-t0.log 2>&1
echo "t0 exited $? $(date -u +%T)"
