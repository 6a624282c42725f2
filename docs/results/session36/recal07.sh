#!/usr/bin/env bash
# Rounds at T 0.7 top-p 0.9 for a per-temperature sampled calibration (session 36): the fit prompts of
# runs/recal.sh (DSpark-1f's held-out first turns, benchmark prompts 20-59 of each set), then the score
# prompts (60-99 of each set), alone and behind lookup (the default drafter).
set -uo pipefail
cd /work/main
mkdir -p runs/recal07
SCORE=()
for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do SCORE+=(--data runs/recal/score-$s.jsonl); done
echo "== fit rounds $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0.7 --top-p 0.9 --max-new-tokens 256 --seed 1 --data runs/recal/fit-prompts.jsonl \
  --drafter checkpoints/dspark-smollm2-135m --out runs/recal07/fit 2>&1 | grep -v "prompt/s\|s/prompt\|it/s\|s/it" | tail -14
echo "== score rounds $(date -u +%H:%M:%S)"
deepspec eval --threads 2 --batch 8 --temperature 0.7 --top-p 0.9 --max-new-tokens 256 --seed 0 "${SCORE[@]}" \
  --drafter checkpoints/dspark-smollm2-135m --drafter default --out runs/recal07/score 2>&1 | grep -v "prompt/s\|s/prompt\|it/s\|s/it" | tail -16
echo "== done $(date -u +%H:%M:%S)"
