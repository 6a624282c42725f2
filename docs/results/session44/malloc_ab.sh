#!/bin/bash
# session 44: glibc keeping freed blocks (the working tree) against HEAD (13fa11a), separate processes alternated
ARGS="--threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark"
for i in 1 2; do
  for tree in A B; do
    if [ $tree = A ]; then P=/tmp/A/src; else P=/work/main/src; fi
    echo "=== greedy run $i tree $tree $(date +%T)"
    (cd /tmp && PYTHONPATH=$P python /work/main/benchmarks/decode_speed.py $ARGS 2>/dev/null | grep '^|' | grep -v "exact\|---")
  done
done
for i in 1 2; do
  for tree in A B; do
    if [ $tree = A ]; then P=/tmp/A/src; else P=/work/main/src; fi
    echo "=== sampled T 0.7 top-p 0.9 run $i tree $tree $(date +%T)"
    (cd /tmp && PYTHONPATH=$P python /tmp/s44/sampled_once.py 2>/dev/null)
  done
done
echo "=== done $(date +%T)"
