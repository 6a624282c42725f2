#!/usr/bin/env bash
# The T 0.7 fit behind n-gram lookup (session 36): the default drafter's rounds on the fit prompts of
# runs/recal.sh at T 0.7 top-p 0.9, fitted into calibration.json's behind_lookup section, then scored
# on the score rounds of runs/recal07.sh (no fit saw them).
set -uo pipefail
cd /work/main
echo "== fit rounds behind lookup $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0.7 --top-p 0.9 --max-new-tokens 256 --seed 1 --data runs/recal/fit-prompts.jsonl \
  --drafter default --out runs/recal07/fit-lookup 2>&1 | grep -v "prompt/s\|s/prompt\|it/s\|s/it" | tail -8
echo "== fit $(date -u +%H:%M:%S)"
deepspec calibrate --records runs/recal07/fit-lookup/rounds/default/fit-prompts.jsonl --drafter checkpoints/dspark-smollm2-135m \
  --regime sampled --temperature 0.7 --behind-lookup --out runs/recal07/fit-lookup 2>&1 | tail -14
echo "== score $(date -u +%H:%M:%S)"
deepspec calibrate --records runs/recal07/score/rounds/default/*.jsonl --drafter checkpoints/dspark-smollm2-135m \
  --temperature 0.7 --behind-lookup --score --out runs/recal07/score-behind-2 2>&1 | tail -11
deepspec calibrate --records runs/recal07/score/rounds/dspark-smollm2-135m/*.jsonl --drafter checkpoints/dspark-smollm2-135m \
  --temperature 0.7 --score --out runs/recal07/score-alone-2 2>&1 | tail -11
echo "== done $(date -u +%H:%M:%S)"
