#!/usr/bin/env bash
# The SmolLM2-135M-Instruct drafters end to end on CPU (README "Results"). Every step resumes:
# rerun the script after an interruption and it continues where it stopped.
#
#   scripts/reproduce-smollm2.sh              # everything (a few hours on 2 cores)
#   STEPS="train-dspark eval" scripts/reproduce-smollm2.sh     # a subset
source "$(dirname "$0")/common.sh"
STEPS=${STEPS:-"prompts regenerate cache train-dspark train-dflash train-eagle3 train-mtp profile calibrate eval speed sweep"}
EVAL_SAMPLES=${EVAL_SAMPLES:-5}

for step in $STEPS; do
  echo "== $step  $(date -u +%H:%M:%S)"
  case $step in
    prompts)    [ -f data/prompts/train.jsonl ] || deepspec prompts --out data/prompts/train.jsonl ;;
    regenerate) deepspec regenerate --prompts data/prompts/train.jsonl --out data/regen/smollm2-135m.jsonl \
                  --limit "${REGEN_LIMIT:-1840}" --max-new-tokens 320 --max-batch 16 --threads "$THREADS" ;;
    cache)      deepspec cache --data data/regen/smollm2-135m.jsonl --taps 1,8,14,20,26,27,29 \
                  --out runs/cache/smollm2-135m --max-len 512 --threads "$THREADS" ;;
    train-*)    deepspec train --config "configs/${step#train-}-smollm2-135m.toml" ;;
    calibrate)
      # STS is fitted on rounds over training-distribution prompts that neither training (the first
      # 1,840 prompts were regenerated) nor the benchmark sets have seen: 60 per domain from row 5000 on
      # (~11k rounds: with ~900 rounds per position the ECE of a calibrated head is itself 2-3 %).
      python - <<'PY'
import json
rows = [json.loads(l) for l in open("data/prompts/train.jsonl")][5000:]
picked, per = [], {}
for r in rows:
    if per.get(r["domain"], 0) < 60:
        per[r["domain"]] = per.get(r["domain"], 0) + 1
        picked.append({"turns": [m["content"] for m in r["conversations"] if m["role"] == "user"][:1]})
with open("runs/calibration-prompts.jsonl", "w") as f:
    f.writelines(json.dumps(p) + "\n" for p in picked)
PY
      deepspec eval --threads "$THREADS" --batch 8 --temperature 1 --max-new-tokens "$EVAL_TOKENS" --seed 1 \
        --data runs/calibration-prompts.jsonl --drafter runs/dspark-smollm2-135m/final --out runs/calibration-rounds
      deepspec calibrate --records runs/calibration-rounds/rounds/dspark-smollm2-135m/calibration-prompts.jsonl \
        --drafter runs/dspark-smollm2-135m/final --out runs/calibration-rounds
      # greedy requests survive by another rule (argmax match): their own fit, calibration.json's "greedy"
      deepspec eval --threads "$THREADS" --batch 8 --temperature 0 --max-new-tokens "$EVAL_TOKENS" --seed 1 \
        --data runs/calibration-prompts.jsonl --drafter runs/dspark-smollm2-135m/final --out runs/calibration-rounds-t0
      deepspec calibrate --records runs/calibration-rounds-t0/rounds/dspark-smollm2-135m/calibration-prompts.jsonl \
        --drafter runs/dspark-smollm2-135m/final --regime greedy --out runs/calibration-rounds-t0 ;;
    eval)
      for t in 0 1; do
        deepspec eval --threads "$THREADS" --batch 8 --temperature "$t" --max-samples "$EVAL_SAMPLES" \
          --max-new-tokens "$EVAL_TOKENS" --seed 0 "${DATA[@]}" \
          --drafter runs/dspark-smollm2-135m/final --drafter runs/dflash-smollm2-135m/final \
          --drafter runs/eagle3-smollm2-135m/final --drafter runs/mtp-smollm2-135m/final \
          --drafter ngram --out "runs/eval-smollm2-t$t"
      done ;;
    profile)    dspark profile --threads "$THREADS" ;;     # the SPS table the dspark policies read
    speed)      # batch-1 greedy speed on the math and code sets against plain decoding and transformers
      python benchmarks/decode_speed.py --threads "$THREADS" --prompts 10 --max-new-tokens 128 \
        --sets gsm8k,humaneval,math500,mbpp,livecodebench \
        --drafter runs/dspark-smollm2-135m/final --drafter runs/dspark-smollm2-135m/final@dspark \
        | tee runs/speed-smollm2.md ;;
    sweep)      # issue 6: the policies over a concurrency sweep (Fig. 7 / Fig. 8)
      dspark bench --threads "$THREADS" --drafter runs/dspark-smollm2-135m/final \
        --policies none,fixed,mtp1,dspark --concurrency 1,2,4,8,16,32 --duration 20 --max-tokens 96 \
        --output-dir runs/bench-smollm2 ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
