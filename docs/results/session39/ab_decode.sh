#!/bin/bash
# batch-1 decode_speed: the session's start (d934c2d) and its end, alternated, nothing else running
cd /work/main
ARGS="--threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark"
for i in 1 2; do
  echo "=== start (d934c2d) run $i"; (cd /tmp && PYTHONPATH=/tmp/s39/start/src python /work/main/benchmarks/decode_speed.py $ARGS 2>/dev/null)
  echo "=== end run $i"; python benchmarks/decode_speed.py $ARGS 2>/dev/null
done
