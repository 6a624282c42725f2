#!/usr/bin/env bash
# Session 50: ship the better of DSpark-1o and DSpark-1n (Table 1 macro tau at T = 0, chain.sh's
# table1-t0-1o.json) after chain.sh (pid $1) ends: the pipeline's calibrate, calibrate-lookup and ship
# steps, the T 0.7 top-p 0.9 fits alone and behind lookup (as session 36's recal07*.sh did for
# DSpark-1f), Table 1 at T = 0 and T = 1 with the shipped drafter and the default, the ece step (which
# scores the calibration over its rounds and Table 1's), then the model card.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=docs/results/session50
[ -n "${1:-}" ] && while kill -0 "$1" 2>/dev/null; do sleep 20; done
WIN=$(python - <<'PY'
import json
res = json.load(open("docs/results/session50/table1-t0-1o.json"))["drafters"]
best = max(("dspark1o-smollm2-135m-algo2", "dspark1n-smollm2-135m-algo"), key=lambda n: res[n]["macro"]["tau"])
print(f"runs/{best}")
PY
)
SHIP=$(basename "$WIN")
echo "== shipping $WIN $(date -u +%H:%M:%S)"
SHIP_RUN=$WIN STEPS="calibrate calibrate-lookup ship" scripts/train-smollm2-24k.sh
echo "== T 0.7 fits $(date -u +%H:%M:%S)"
CK=checkpoints/dspark-smollm2-135m
deepspec eval --threads 2 --batch 8 --temperature 0.7 --top-p 0.9 --max-new-tokens 256 --seed 1 \
  --data runs/calibration-prompts-24k.jsonl --drafter $CK --drafter default --out "runs/calibration-$SHIP-t07"
deepspec calibrate --records "runs/calibration-$SHIP-t07/rounds/dspark-smollm2-135m/calibration-prompts-24k.jsonl" \
  --drafter $CK --regime sampled --temperature 0.7 --out "runs/calibration-$SHIP-t07/alone"
deepspec calibrate --records "runs/calibration-$SHIP-t07/rounds/default/calibration-prompts-24k.jsonl" \
  --drafter $CK --regime sampled --temperature 0.7 --behind-lookup --out "runs/calibration-$SHIP-t07/behind-lookup"
SETS=(); for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SETS+=(--data ../shared/eval_datasets/$s.jsonl); done
for t in 0 1; do
  echo "== Table 1 T $t $(date -u +%H:%M:%S)"
  deepspec eval --threads 2 --batch 8 --temperature $t --max-samples 20 --max-new-tokens 256 --seed 0 \
    --drafter $CK --drafter default "${SETS[@]}" --out "runs/eval-smollm2-24k-t$t"
  cp "runs/eval-smollm2-24k-t$t/results.json" "$R/table1-t$t-shipped.json"
done
echo "== ece $(date -u +%H:%M:%S)"
SHIP_RUN=$WIN STEPS="ece" scripts/train-smollm2-24k.sh
CARD=()
for d in runs/eval-smollm2-24k-t0 runs/eval-smollm2-24k-t1 "runs/ece-extra-$SHIP/t0" "runs/ece-extra-$SHIP/t1"; do CARD+=(--eval "$d"); done
for d in "runs/ece-score-$SHIP"/*/score.json; do CARD+=(--score "$d"); done
python scripts/model_card.py --run "$WIN" --out $CK "${CARD[@]}"
mkdir -p "$R/ece-score"
for d in "runs/ece-score-$SHIP"/*/; do cp "$d/score.json" "$R/ece-score/$(basename "$d").json"; done
echo "== done $(date -u +%H:%M:%S)"
