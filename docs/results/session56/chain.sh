#!/bin/bash
# session 56: DSpark-1t (Markov rank 64 -> 256) for one epoch, then Table 1 at T=0 for its final weights.
# (as run: from a copy of src/ in /tmp/s56/root/src; DSpark-1s ran the same two steps with
# configs/dspark1s-smollm2-135m-greedy.toml and was stopped at step 500 of 968, its Table 1 not run)
cd /work/main
export PYTHONPATH=/tmp/s56/root/src
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
echo "start $(date -u +%T)"
python -m deepspec.cli train --config configs/dspark1t-smollm2-135m-rank256.toml data.features=$CACHE > runs/dspark1t-train.log 2>&1
echo "train exited $? $(date -u +%T)"
D=()
for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do D+=(--data "../shared/eval_datasets/$s.jsonl"); done
python -m deepspec.cli eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" --drafter runs/dspark1t-smollm2-135m-rank256/final --out runs/eval-dspark1t-t0 > runs/eval-dspark1t-t0.log 2>&1
echo "t0 exited $? $(date -u +%T)"
