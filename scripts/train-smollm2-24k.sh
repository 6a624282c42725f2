#!/usr/bin/env bash
# Issue 15's drafters for SmolLM2-135M-Instruct on the 24k-conversation data, end to end. Every step
# resumes: rerun the script after an interruption and it continues where it stopped. The cache and
# training steps resume themselves; every other step, once it has finished, leaves a mark in
# runs/done-smollm2-24k/ and a rerun of the whole script skips it (naming steps in STEPS always
# runs them). runs/ stays on its machine: before leaving one, stop the training right after a
# checkpoint, run the carry step and commit data/carry/; a new machine rebuilds the cache (~3 h of
# 2 cores) and each training continues from its carry. A run with few steps left can skip the
# rebuild: `deepspec train --config configs/<run>.toml data.features=online` continues it from its
# carry with the target's features computed on the fly (the target's own, not the cache's q8
# rounding; the Eagle3 run's last 150 steps went that way in session 20, ~30 s a step against ~24).
#
#   scripts/train-smollm2-24k.sh                                  # everything (~a day of 2 CPU cores)
#   STEPS="cache train-dspark2" scripts/train-smollm2-24k.sh      # a subset
#   STEPS=carry scripts/train-smollm2-24k.sh && git add data/carry   # before leaving a machine
#
# Steps:
#   cache          q8 target features of every regenerated conversation (scripts/regen-smollm2-24k.sh
#                  grows the data; a rerun adds only conversations that are not cached yet)
#   train-dspark2  DSpark, 2 draft layers (configs/dspark2-smollm2-135m-24k.toml): the candidate
#                  default drafter, so it is calibrated and timed before the other drafters train
#   calibrate      STS + bias and each regime's online rate for the 2-layer DSpark, sampled and
#                  greedy regimes, on the prompts of its 200 held-out conversations (never trained
#                  on) and on benchmark prompts that Table 1 does not score, CAL_TOKENS answer tokens each
#   calibrate-lookup  the same for greedy requests of the drafter behind n-gram lookup (the default
#                  `ngram+dspark`): its rounds there, fitted into calibration.json's "behind_lookup" section
#   ship           the calibrated 2-layer DSpark becomes the committed `dspark` drafter
#                  (checkpoints/dspark-smollm2-135m/, fp16 weights, model card)
#   ece            its calibration scored on ECE_PER_SET more prompts of each benchmark set, none in
#                  the fit or in Table 1 (the next ones of each set's seed-0 shuffle), both temperatures,
#                  alone and behind n-gram lookup (the default drafter)
#   speed          batch-1 greedy speed on the math and code sets (the finished DSpark runs with their
#                  policy, n-gram, plain); rerun it once train-dspark1 has finished to add that run
#   profile        the target's steps-per-second table on this machine (what the dspark policy reads)
#   sweep          the serving sweep, concurrency 1-32: policies none, fixed, mtp1 and dspark with the
#                  2-layer DSpark (Fig. 7 / Fig. 8 shapes); it needs only that drafter, so it runs
#                  before the day of training the comparison drafters takes
#   train-dflash   DFlash at the DSpark run's depth and steps;  train-eagle3  Eagle3 round 2
#   train-dspark1  DSpark, 1 draft layer, for the same wall time (steps x 1.5: a 1-layer step costs
#                  2.15 s against 3.2 s for 2 layers here); last of the trainings: the comparison
#                  the issue asks for, after the three drafters Table 1 needs
#   curves         deepspec plot-train over the four runs (train vs held-out: data- or step-limited?)
#   eval           Table 1 at T = 0 and T = 1 on the six benchmark sets, EVAL_TOKENS (256) answer
#                  tokens per prompt, as the DSpark-2 table of session 17
#   carry          (not in the default order) the newest checkpoint of every run, compact, in
#                  data/carry/<run>/ (fp16 weights, no optimizer moments, the log gzip'd)
EVAL_TOKENS=${EVAL_TOKENS:-256}   # before common.sh, whose default (96) is for the quick reproductions
source "$(dirname "$0")/common.sh"
SKIP_DONE=$([ -z "${STEPS:-}" ] && echo 1 || echo 0)
STEPS=${STEPS:-"cache train-dspark2 calibrate calibrate-lookup ship ece speed profile sweep train-dflash train-eagle3 train-dspark1 curves eval"}
DONE=runs/done-smollm2-24k
mkdir -p "$DONE"
EVAL_SAMPLES=${EVAL_SAMPLES:-20}
# answer tokens per calibration prompt: 200 prompts x 128 tokens gave ~7k scored rounds, where a
# perfectly calibrated head would show an ECE of ~1.6 % at position 1 (`deepspec calibrate`'s noise
# floor); 440 prompts x 256 tokens give ~4x the rounds and half that floor
CAL_TOKENS=${CAL_TOKENS:-256}
CAL_PER_SET=${CAL_PER_SET:-40}   # calibration prompts from each benchmark set, none of them scored
ECE_PER_SET=${ECE_PER_SET:-40}   # prompts per set that only score the calibration (mt-bench has 20 left)
CACHE=runs/cache/smollm2-135m-24k
RUNS=(runs/dspark2-smollm2-135m-24k runs/dspark1-smollm2-135m-24k runs/dflash-smollm2-135m-24k
      runs/eagle3-smollm2-135m-24k)
DSPARK1=(drafter.num_layers=1 out_dir=runs/dspark1-smollm2-135m-24k schedule.total_steps=6750
         logging.carry_dir=data/carry/dspark1-smollm2-135m-24k)
DRAFTERS=()
for r in "${RUNS[@]}"; do DRAFTERS+=(--drafter "$r/final"); done

for step in $STEPS; do
  if [ "$SKIP_DONE" = 1 ] && [ -e "$DONE/$step" ]; then
    echo "== $step: finished $(cat "$DONE/$step"), skipped (rm $DONE/$step to run it again)"
    continue
  fi
  echo "== $step  $(date -u +%H:%M:%S)"
  case $step in
    cache)
      deepspec cache --data data/regen/smollm2-135m-24k --taps 1,8,14,20,27 --max-len 1024 --dtype q8 \
        --out "$CACHE" --threads "$THREADS" ;;
    train-dspark2) deepspec train --config configs/dspark2-smollm2-135m-24k.toml ;;
    train-dspark1) deepspec train --config configs/dspark2-smollm2-135m-24k.toml "${DSPARK1[@]}" ;;
    train-dflash)  deepspec train --config configs/dflash-smollm2-135m-24k.toml ;;
    train-eagle3)  deepspec train --config configs/eagle3-smollm2-135m-24k.toml ;;
    curves)        deepspec plot-train "${RUNS[@]}" --out runs/curves-smollm2-24k.png ;;
    calibrate)
      # prompts no drafter trained on: the first user turns of the DSpark run's held-out conversations
      # (from the committed regenerated shards: the prompt file itself is rebuilt only by regen), and
      # CAL_PER_SET prompts of each benchmark set that Table 1 does not score (the eval step reads
      # the first EVAL_SAMPLES of each set's seed-0 shuffle; these are the next ones). The head's
      # level differs by domain: fitted on chat-like prompts alone it was over-confident on the
      # math sets (RESULTS.md, session 17).
      EVAL_SAMPLES=$EVAL_SAMPLES CAL_PER_SET=$CAL_PER_SET python - "${DATA[@]}" <<'PY'
import gzip, json, os, sys
from pathlib import Path
from deepspec.eval.evaluate import load_eval_prompts
held = set(json.load(open("runs/dspark2-smollm2-135m-24k/heldout_ids.json")))
skip, take = int(os.environ["EVAL_SAMPLES"]), int(os.environ["CAL_PER_SET"])
with open("runs/calibration-prompts-24k.jsonl", "w") as f:
    for shard in sorted(Path("data/regen/smollm2-135m-24k").glob("shard-*.jsonl.gz")):
        for line in gzip.open(shard, "rt"):
            r = json.loads(line)
            if r["id"] in held:
                f.write(json.dumps({"turns": [m["content"] for m in r["conversations"] if m["role"] == "user"][:1]}) + "\n")
    for path in sys.argv[2::2]:                       # the --data values
        for prompt in load_eval_prompts(Path(path), skip + take, 0)[skip:]:
            f.write(json.dumps({"turns": [prompt]}) + "\n")
PY
      for t in 1 0; do
        regime=$([ "$t" = 0 ] && echo greedy || echo sampled)
        deepspec eval --threads "$THREADS" --batch 8 --temperature "$t" --max-new-tokens "$CAL_TOKENS" --seed 1 \
          --data runs/calibration-prompts-24k.jsonl --drafter runs/dspark2-smollm2-135m-24k/final \
          --out "runs/calibration-24k-t$t"
        deepspec calibrate --records "runs/calibration-24k-t$t/rounds/dspark2-smollm2-135m-24k/calibration-prompts-24k.jsonl" \
          --drafter runs/dspark2-smollm2-135m-24k/final --regime "$regime" --out "runs/calibration-24k-t$t"
      done ;;
    calibrate-lookup)
      # the same prompts drafted by the default drafter, n-gram lookup first: the DSpark drafter drafts
      # only where lookup has nothing, and greedy requests then miss the loops lookup takes, so their
      # confidences get their own fit, calibration.json's "behind_lookup" section. Greedy only: a
      # sampled fit behind lookup scored worse at position 1 on the benchmark prompts than the
      # standalone one (1.69 against 1.00 %; RESULTS.md, session 19), which the section then keeps.
      t=0
      deepspec eval --threads "$THREADS" --batch 8 --temperature "$t" --max-new-tokens "$CAL_TOKENS" --seed 1 \
        --data runs/calibration-prompts-24k.jsonl --drafter ngram+runs/dspark2-smollm2-135m-24k/final \
        --out "runs/calibration-lookup-24k-t$t"
      deepspec calibrate --records "runs/calibration-lookup-24k-t$t/rounds/ngram+dspark2-smollm2-135m-24k/calibration-prompts-24k.jsonl" \
        --drafter runs/dspark2-smollm2-135m-24k/final --regime greedy --behind-lookup \
        --out "runs/calibration-lookup-24k-t$t" ;;
    ece)
      # Table 1 (EVAL_SAMPLES per set) alone scores the calibration on 120 requests, too few to
      # tell 1.5 % from 1.9 % ECE (RESULTS.md, session 18): these prompts add as many rounds again
      mkdir -p runs/ece-extra-24k/prompts
      EXTRA=()
      for s in "${SETS[@]}"; do
        EXTRA+=(--data "runs/ece-extra-24k/prompts/$s.jsonl")
        python -c "import json, sys; from pathlib import Path; from deepspec.eval.evaluate import load_eval_prompts
a, n = int(sys.argv[2]), int(sys.argv[3])
for p in load_eval_prompts(Path(sys.argv[1]), a + n, 0)[a:]: print(json.dumps({'turns': [p]}))" \
          "../shared/eval_datasets/$s.jsonl" $((EVAL_SAMPLES + CAL_PER_SET)) "$ECE_PER_SET" \
          > "runs/ece-extra-24k/prompts/$s.jsonl"
      done
      for t in 0 1; do
        deepspec eval --threads "$THREADS" --batch 8 --temperature "$t" --max-new-tokens "$CAL_TOKENS" --seed 0 \
          "${EXTRA[@]}" --drafter checkpoints/dspark-smollm2-135m --drafter default --out "runs/ece-extra-24k/t$t"
      done ;;
    ship)
      python scripts/model_card.py --run runs/dspark2-smollm2-135m-24k --out checkpoints/dspark-smollm2-135m \
        --config configs/dspark2-smollm2-135m-24k.toml --copy --fp16 ;;
    eval)
      for t in 0 1; do
        deepspec eval --threads "$THREADS" --batch 8 --temperature "$t" --max-samples "$EVAL_SAMPLES" \
          --max-new-tokens "$EVAL_TOKENS" --seed 0 "${DATA[@]}" "${DRAFTERS[@]}" --drafter ngram --drafter default \
          --out "runs/eval-smollm2-24k-t$t"
      done
      # the shipped drafter's card lists Table 1 and the calibration's extra scoring
      CARD_EVALS=()
      for d in runs/eval-smollm2-24k-t0 runs/eval-smollm2-24k-t1 runs/ece-extra-24k/t0 runs/ece-extra-24k/t1; do
        [ -e "$d/results.json" ] && CARD_EVALS+=(--eval "$d")
      done
      python scripts/model_card.py --run runs/dspark2-smollm2-135m-24k --out checkpoints/dspark-smollm2-135m \
        --config configs/dspark2-smollm2-135m-24k.toml "${CARD_EVALS[@]}" ;;
    speed)
      # the DSpark runs that have finished (the 2-layer one first: it is the candidate default
      # drafter), each with the whole block verified (fixed), with its policy, and after n-gram lookup
      # (ngram+: lookup where the context repeats), and n-gram lookup with the dspark policy too
      SPEED=(--drafter ngram@dspark)
      for r in runs/dspark2-smollm2-135m-24k runs/dspark1-smollm2-135m-24k; do
        [ -d "$r/final" ] && SPEED+=(--drafter "$r/final" --drafter "$r/final@dspark" --drafter "ngram+$r/final@dspark")
      done
      python benchmarks/decode_speed.py --threads "$THREADS" --prompts 10 --max-new-tokens 128 \
        --sets gsm8k,humaneval,math500,mbpp,livecodebench "${SPEED[@]}" | tee runs/speed-smollm2-24k.md ;;
    profile) dspark profile --threads "$THREADS" ;;
    carry)
      for c in dspark2 dflash eagle3; do
        [ -e "runs/$c-smollm2-135m-24k/checkpoints/latest" ] &&
          deepspec train --config "configs/$c-smollm2-135m-24k.toml" --write-carry
      done
      [ -e runs/dspark1-smollm2-135m-24k/checkpoints/latest ] &&
        deepspec train --config configs/dspark2-smollm2-135m-24k.toml "${DSPARK1[@]}" --write-carry
      true ;;
    sweep)
      dspark bench --threads "$THREADS" --drafter runs/dspark2-smollm2-135m-24k/final \
        --policies none,fixed,mtp1,dspark --concurrency 1,2,4,8,16,32 --duration 20 --max-tokens 96 \
        --output-dir runs/bench-smollm2-24k ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
  date -u +%FT%TZ > "$DONE/$step"
done
