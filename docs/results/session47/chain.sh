#!/bin/bash
# Session 47: the greedy-answer pilot after `LIMIT=2000 scripts/regen-smollm2-t0.sh`: cache the two greedy
# stores and the control's 2,000 T 0.7 conversations, train DSpark-1k and its control on the cache,
# score the control on the greedy held-out answers, then Table 1 at T = 0 for DSpark-1f, 1k and the
# control in one process.
cd /work/main
R=docs/results/session47
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
C=(--taps 1,8,14,20,27 --max-len 1024 --dtype q8 --out "$CACHE" --threads 2 --no-progress)
while pgrep -f "regen-smollm2-t0.sh|deepspec regenerate" > /dev/null; do sleep 20; done
set -e
echo "== cache $(date -u +%H:%M:%S)"
deepspec cache --data data/regen/smollm2-135m-t0-heldout "${C[@]}"
deepspec cache --data data/regen/smollm2-135m-t0-8k "${C[@]}"
deepspec cache --data data/regen/smollm2-135m-extra-8k --limit 2000 "${C[@]}"
echo "== train 1k $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1k-smollm2-135m-t0.toml data.features=$CACHE > runs/s47-train-1k.log 2>&1
echo "== train ctl $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1k-ctl-smollm2-135m-t07.toml data.features=$CACHE > runs/s47-train-ctl.log 2>&1
deepspec train --config configs/dspark1k-ctl-smollm2-135m-t07.toml --eval-only \
  'data.paths=["data/regen/smollm2-135m-t0-heldout"]' data.limit=0 data.holdout=200 data.features=$CACHE \
  > $R/heldout-t0-ctl.log 2>&1
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
echo "== T0 $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  --drafter runs/dspark1k-smollm2-135m-t0/final --drafter runs/dspark1k-ctl-smollm2-135m-t07/final \
  --drafter data/carry/dspark1f-smollm2-135m-32k "${SETS[@]}" --out runs/s47-eval-t0 > runs/s47-eval-t0.log 2>&1
cp runs/s47-eval-t0/results.json $R/table1-t0-pilot.json
echo "== done $(date -u +%H:%M:%S)"
