#!/usr/bin/env bash
# Session 53, after chain.sh: Table 1 (T = 0 and T = 1, seed 0, 20 prompts a set, 256 tokens) with the
# shipped DSpark-1p alone and behind lookup (the default), whose rounds score_shipped pools with the
# ece step's; then the calibration refitted with sts-beta on chain.sh's rounds (their evals are not
# run again), shipped (the same fp16 weights: the digest and the rounds stay valid), scored, and the
# card written with all of it. SRC_COPY as in chain.sh.
source "$(dirname "$0")/../../../scripts/common.sh"
[ -n "${SRC_COPY:-}" ] && export PYTHONPATH=$SRC_COPY
SHIP_RUN=runs/dspark1p-smollm2-135m-writing
SHIP=$(basename "$SHIP_RUN")
CARRY=data/carry/$SHIP
# the run directory model_card.py reads, from the carry: the run's config (the q8 cache it trained on),
# its log and its last trainer state
zcat "$CARRY/train_log.jsonl.gz" > "$SHIP_RUN/train_log.jsonl"
python -c "import json, sys; from deepspec.train.config import load_config
print(json.dumps(load_config(sys.argv[1], ['data.features=' + sys.argv[2]]).to_dict(), indent=2))" \
  "configs/$SHIP.toml" "$HOME/.cache/deepspec/features/smollm2-135m-q8" > "$SHIP_RUN/config.json"
mkdir -p "$SHIP_RUN/checkpoints/step_000968"
ln -sfn "$PWD/$CARRY/trainer_state.pt" "$SHIP_RUN/checkpoints/step_000968/trainer_state.pt"
for t in 0 1; do
  [ -e "runs/eval-smollm2-24k-t$t/results.json" ] || deepspec eval --threads "$THREADS" --batch 8 --temperature "$t" \
    --max-samples 20 --max-new-tokens 256 --seed 0 "${DATA[@]}" --drafter checkpoints/dspark-smollm2-135m \
    --drafter default --out "runs/eval-smollm2-24k-t$t"
done
rm -f "$CARRY/calibration.json"   # the fits below start from none (the run's final/ is the carry)
SHIP_RUN=$SHIP_RUN STEPS="calibrate calibrate-lookup ship ece" scripts/train-smollm2-24k.sh
rm -f "$CARRY/calibration.json"   # shipped: checkpoints/dspark-smollm2-135m holds it
CARD=()
for d in runs/eval-smollm2-24k-t0 runs/eval-smollm2-24k-t1 "runs/ece-extra-$SHIP/t0" "runs/ece-extra-$SHIP/t1"; do
  CARD+=(--eval "$d")
done
for d in "runs/ece-score-$SHIP"/*/score.json; do CARD+=(--score "$d"); done
python scripts/model_card.py --run "$SHIP_RUN" --out checkpoints/dspark-smollm2-135m "${CARD[@]}"
# the feature cache is not on this machine; the run trained on its q8 features (the card before)
sed -i 's/cached by `deepspec cache` in ? (/cached by `deepspec cache` in q8 (/' checkpoints/dspark-smollm2-135m/README.md
