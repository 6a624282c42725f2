#!/bin/bash
# Session 56: train a DSpark-1p fine-tune on the q8 cache, then Table 1 at T = 0 for its final weights.
#   docs/results/session56/chain.sh OUT_DIR CONFIG [OVERRIDE...]
# The session's runs (as run: from a copy of src/ in /tmp/s56/root/src, each with its arguments written
# into its own copy of these lines):
#   DSpark-1t: chain.sh runs/dspark1t-smollm2-135m-rank256 configs/dspark1t-smollm2-135m-rank256.toml
#   DSpark-1u: chain.sh runs/dspark1u-smollm2-135m-decay2 configs/dspark1p-smollm2-135m-writing.toml \
#                init_from=data/carry/dspark1p-smollm2-135m-writing loss.position_decay=2.0 \
#                schedule.total_steps=484 logging.eval_every=242 logging.carry_dir=
#   DSpark-1s: chain.sh runs/dspark1s-smollm2-135m-greedy configs/dspark1s-smollm2-135m-greedy.toml,
#              stopped at step 500 of 968; its Table 1 ran on the step-500 checkpoint with DSpark-1p's carry
#              as a second --drafter
OUT=$1; CONFIG=$2; shift 2
cd /work/main
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
NAME=$(basename "$OUT")
echo "start $(date -u +%T)"
python -m deepspec.cli train --config "$CONFIG" data.features=$CACHE out_dir="$OUT" "$@" > "runs/$NAME-train.log" 2>&1
echo "train exited $? $(date -u +%T)"
D=()
for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do D+=(--data "../shared/eval_datasets/$s.jsonl"); done
python -m deepspec.cli eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" --drafter "$OUT/final" --out "runs/eval-$NAME-t0" > "runs/eval-$NAME-t0.log" 2>&1
echo "t0 exited $? $(date -u +%T)"
