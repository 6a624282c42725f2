#!/usr/bin/env bash
# Session 53 on a new machine (no runs/): the shipped DSpark-1p's calibration and scoring rounds again,
# for the curvature (sts-beta) fit. The run directory is the carry plus its held-out ids (the
# t0-heldout store's last 200, as [data] holdout = 200 takes them):
#   mkdir -p runs/dspark1p-smollm2-135m-writing
#   ln -s ../../data/carry/dspark1p-smollm2-135m-writing runs/dspark1p-smollm2-135m-writing/final
#   (zcat data/regen/smollm2-135m-t0-heldout/shard-*.jsonl.gz | the last 200 ids) > .../heldout_ids.json
# SRC_COPY: a copy of src/ that the job imports (PYTHONPATH), so that edits to the checkout cannot
# reach it half way (a lazy import of an edited module killed the first try). It must sit in a
# directory beside checkpoints/ (a link will do): the default drafter is found from the package.
# Run: calibrate-lookup, then ece and calibrate (a second try: the first copy lacked checkpoints/);
# then, after the sts-beta change, STEPS="calibrate calibrate-lookup ship ece" refits on these rounds.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export SHIP_RUN=runs/dspark1p-smollm2-135m-writing
[ -n "${SRC_COPY:-}" ] && export PYTHONPATH=$SRC_COPY
STEPS=${STEPS:-"calibrate-lookup ece calibrate"} scripts/train-smollm2-24k.sh
