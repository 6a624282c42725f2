#!/usr/bin/env bash
# Session 51: after chain.sh (pid $1) ends, ship DSpark-1p if its Table 1 macro tau at T = 0
# (table1-t0-1p.json) beats DSpark-1o's: the pipeline's calibrate, calibrate-lookup (both with the
# T 0.7 top-p 0.9 fits) and ship steps, the card with chain.sh's Table 1, batch 1 against DSpark-1o's
# shipped files (copied to runs/shipped-1o/ beforehand), then the ece step and the card with its scores.
# Session 51 stopped it as the ece step began (time): the ece step and the last card did not run.
set -euo pipefail
cd "$(dirname "$0")/../../.."
R=docs/results/session51
[ -n "${1:-}" ] && while kill -0 "$1" 2>/dev/null; do sleep 20; done
WIN=runs/dspark1p-smollm2-135m-writing
SHIP=$(basename "$WIN")
python - <<'PY' || { echo "== DSpark-1p does not beat DSpark-1o: not shipped"; exit 0; }
import json, sys
res = json.load(open("docs/results/session51/table1-t0-1p.json"))["drafters"]
p, o = (res[n]["macro"]["tau"] for n in ("dspark1p-smollm2-135m-writing", "dspark1o-smollm2-135m-algo2"))
print(f"macro tau at T = 0: DSpark-1p {p:.3f}, DSpark-1o {o:.3f}")
sys.exit(0 if p > o else 1)
PY
echo "== shipping $WIN $(date -u +%H:%M:%S)"
SHIP_RUN=$WIN STEPS="calibrate calibrate-lookup ship" scripts/train-smollm2-24k.sh
CK=checkpoints/dspark-smollm2-135m
python scripts/model_card.py --run "$WIN" --out $CK --eval runs/s51-eval-t0
echo "== batch 1 $(date -u +%H:%M:%S)"
python benchmarks/decode_speed.py --threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench \
  --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark \
  --drafter runs/shipped-1o/dspark-smollm2-135m@dspark --drafter ngram+runs/shipped-1o/dspark-smollm2-135m@dspark \
  > runs/s51-speed.log 2>&1
echo "== ece $(date -u +%H:%M:%S)"
SHIP_RUN=$WIN STEPS="ece" scripts/train-smollm2-24k.sh
CARD=(--eval runs/s51-eval-t0)
for d in "runs/ece-extra-$SHIP/t0" "runs/ece-extra-$SHIP/t1"; do CARD+=(--eval "$d"); done
for d in "runs/ece-score-$SHIP"/*/score.json; do CARD+=(--score "$d"); done
python scripts/model_card.py --run "$WIN" --out $CK "${CARD[@]}"
mkdir -p "$R/ece-score"
for d in "runs/ece-score-$SHIP"/*/; do cp "$d/score.json" "$R/ece-score/$(basename "$d").json"; done
echo "== done $(date -u +%H:%M:%S)"
