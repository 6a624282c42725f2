#!/usr/bin/env bash
# Gemma 3 270M drafters (DSpark and DFlash) end to end on CPU, the SmolLM2 recipe on a smaller data
# set (README "Results"). Every step resumes: rerun after an interruption and it continues.
#
#   scripts/reproduce-gemma3.sh                                  # everything (~1.5-2 h on 2 cores)
#   STEPS="eval" scripts/reproduce-gemma3.sh                     # a subset
source "$(dirname "$0")/common.sh"
STEPS=${STEPS:-"regenerate cache train-dspark train-dflash eval"}
EVAL_SAMPLES=${EVAL_SAMPLES:-3}

for step in $STEPS; do
  echo "== $step  $(date -u +%H:%M:%S)"
  case $step in
    regenerate) # a base model: answers are plain-text continuations of the prompts
                deepspec regenerate --target gemma3-270m --prompts data/prompts/train.jsonl \
                  --out data/regen/gemma3-270m.jsonl --limit "${REGEN_LIMIT:-480}" --max-new-tokens 256 \
                  --max-batch 16 --threads "$THREADS" ;;
    cache)      deepspec cache --target gemma3-270m --data data/regen/gemma3-270m.jsonl \
                  --out runs/cache/gemma3-270m --max-len 384 --threads "$THREADS" ;;
    train-*)    deepspec train --config "configs/${step#train-}-gemma3-270m.toml" ;;
    eval)
      for t in 0 1; do
        deepspec eval --target gemma3-270m --threads "$THREADS" --batch 8 --temperature "$t" \
          --max-samples "$EVAL_SAMPLES" --max-new-tokens "$EVAL_TOKENS" --seed 0 "${DATA[@]}" \
          --drafter runs/dspark-gemma3-270m/final --drafter runs/dflash-gemma3-270m/final \
          --drafter ngram --out "runs/eval-gemma3-t$t"
      done ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
