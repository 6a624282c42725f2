#!/usr/bin/env bash
# Issue 15's "2 draft layers against 1 at equal wall time", at a budget one 3-hour session on 2 CPU
# cores can finish: the first 3,000 regenerated SmolLM2 conversations (the last 200 of them held
# out), the 24k recipe otherwise unchanged (configs/dspark2-smollm2-135m-24k.toml). The full-scale
# comparison is `STEPS=train-dspark1 scripts/train-smollm2-24k.sh` (a 3.4 h cache rebuild plus ~4 h);
# this one answers the same question on 1/7 of the data, so read its ratio, not its level.
#
#   scripts/depth-smollm2-3k.sh                      # everything (~50 min on a 2-core AMX Xeon)
#   STEPS="train-2 train-1" scripts/depth-smollm2-3k.sh
#
# Steps (each resumes when rerun: the cache and the trainings continue where they stopped):
#   cache     q8 target features of the first 3,000 conversations (1.45 M tokens, 5.3 GB; 13 min on a
#             2-core AMX Xeon, ~30 min on the EPYCs)
#   train-2   DSpark, 2 draft layers, STEPS2 steps (default 720: ~4 epochs of 16 sequences; 17 min
#             on the Xeon, 1.31 s a step)
#   train-1   DSpark, 1 draft layer, STEPS2 x 1.5 steps: a 1-layer step costs ~2/3 of a 2-layer
#             one (2.15 against 3.2 s in session 12, 0.99 against 1.31 s in session 23), so both
#             runs take about the same time (1.10x in session 23). The held-out evaluations are
#             spaced so that the k-th of each run falls at the same fraction of its budget;
#             `curves` prints the measured wall time of each run
#   curves    deepspec plot-train over both runs (held-out accept_rate@1 and tau_sim per step)
source "$(dirname "$0")/common.sh"
STEPS=${STEPS:-"cache train-2 train-1 curves"}
STEPS2=${STEPS2:-720}
STEPS1=$((STEPS2 * 3 / 2))
CACHE=runs/cache/smollm2-135m-3k
COMMON=(data.limit=3000 "data.features=$CACHE" logging.carry_dir= logging.checkpoint_every=20)

for step in $STEPS; do
  echo "== $step  $(date -u +%H:%M:%S)"
  case $step in
    cache)
      deepspec cache --data data/regen/smollm2-135m-24k --taps 1,8,14,20,27 --max-len 1024 --dtype q8 \
        --limit 3000 --out "$CACHE" --threads "$THREADS" --no-progress ;;
    train-2)
      deepspec train --config configs/dspark2-smollm2-135m-24k.toml "${COMMON[@]}" \
        out_dir=runs/dspark2-3k "schedule.total_steps=$STEPS2" "logging.eval_every=$((STEPS2 / 6))" ;;
    train-1)
      deepspec train --config configs/dspark2-smollm2-135m-24k.toml "${COMMON[@]}" drafter.num_layers=1 \
        out_dir=runs/dspark1-3k "schedule.total_steps=$STEPS1" "logging.eval_every=$((STEPS1 / 6))" ;;
    curves)
      deepspec plot-train runs/dspark2-3k runs/dspark1-3k --out runs/depth-3k-curves.png
      # wall time: the logged seconds of the training steps (held-out evaluations excluded); a row's
      # s_per_step is the mean since the previous row, and a step retrained after a resume counts once
      python - runs/dspark2-3k runs/dspark1-3k <<'PY'
import sys
from pathlib import Path
from deepspec.cli.plot_train import read_log
from deepspec.eval.plots import split_log
for run in sys.argv[1:]:
    rows = sorted({r["step"]: r for r in split_log(read_log(Path(run)))[0]}.values(), key=lambda r: r["step"])
    seconds = sum(r["s_per_step"] * (r["step"] - prev) for prev, r in zip([0] + [r["step"] for r in rows], rows))
    print(f"{run}: {rows[-1]['step']} training steps, {seconds / 60:.1f} min")
PY
      ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
