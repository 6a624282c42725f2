#!/bin/bash
# batch-1 decode_speed: the session's start (f3a0722, a git worktree at /tmp/A) and the working tree, alternated, nothing else running
cd /work/main
ARGS="--threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark"
for i in 1 2; do
  echo "=== start (f3a0722) run $i $(date +%T)"; (cd /tmp && PYTHONPATH=/tmp/A/src python /work/main/benchmarks/decode_speed.py $ARGS 2>/dev/null)
  echo "=== blocked keys run $i $(date +%T)"; python benchmarks/decode_speed.py $ARGS 2>/dev/null
done
echo "=== done $(date +%T)"
