#!/usr/bin/env bash
# Session 50: ship.sh stopped at its ship step (model_card.py refused a run whose held-out store was
# answered greedily; fixed to list each setting with its stores). This resumes after the calibrate and
# calibrate-lookup steps, whose fits were in runs/$SHIP/final: the ship step, the T 0.7 fits, the ece
# step, then the card with Table 1 at T = 0 from chain.sh (DSpark-1o's fp32 run; the fixed-block tau
# does not depend on the calibration). Table 1 with the shipped files was left out for time.
set -euo pipefail
cd "$(dirname "$0")/../../.."
WIN=runs/dspark1o-smollm2-135m-algo2
SHIP=$(basename "$WIN")
R=docs/results/session50
CK=checkpoints/dspark-smollm2-135m
echo "== ship $(date -u +%H:%M:%S)"
SHIP_RUN=$WIN STEPS="ship" scripts/train-smollm2-24k.sh
echo "== T 0.7 fits $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0.7 --top-p 0.9 --max-new-tokens 256 --seed 1 \
  --data runs/calibration-prompts-24k.jsonl --drafter $CK --drafter default --out "runs/calibration-$SHIP-t07"
deepspec calibrate --records "runs/calibration-$SHIP-t07/rounds/dspark-smollm2-135m/calibration-prompts-24k.jsonl" \
  --drafter $CK --regime sampled --temperature 0.7 --out "runs/calibration-$SHIP-t07/alone"
deepspec calibrate --records "runs/calibration-$SHIP-t07/rounds/default/calibration-prompts-24k.jsonl" \
  --drafter $CK --regime sampled --temperature 0.7 --behind-lookup --out "runs/calibration-$SHIP-t07/behind-lookup"
echo "== ece $(date -u +%H:%M:%S)"
SHIP_RUN=$WIN STEPS="ece" scripts/train-smollm2-24k.sh
CARD=(--eval runs/s50-eval-t0)
for d in "runs/ece-extra-$SHIP/t0" "runs/ece-extra-$SHIP/t1"; do CARD+=(--eval "$d"); done
for d in "runs/ece-score-$SHIP"/*/score.json; do CARD+=(--score "$d"); done
python scripts/model_card.py --run "$WIN" --out $CK "${CARD[@]}"
mkdir -p "$R/ece-score"
for d in "runs/ece-score-$SHIP"/*/; do cp "$d/score.json" "$R/ece-score/$(basename "$d").json"; done
echo "== done $(date -u +%H:%M:%S)"
