#!/bin/bash
# T 0.7 top-p 0.9 batch-1 sampled decoding: the session's start (d934c2d) and its end, alternated
cd /work/main
ARGS="--drafter default@dspark --drafter dspark@dspark --temperature 0.7 --top-p 0.9 --prompts 12"
for i in 1 2; do
  echo "=== start (d934c2d) run $i"; (cd /tmp && PYTHONPATH=/tmp/s39/start/src python /work/main/benchmarks/sampled_speed.py $ARGS 2>/dev/null | tail -12)
  echo "=== end run $i"; python benchmarks/sampled_speed.py $ARGS 2>/dev/null | tail -12
done
