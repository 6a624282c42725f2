#!/bin/bash
# the final code alone, nothing else running: batch 1 greedy (a fresh SPS table first), batch 1 at
# T 0.7 top-p 0.9, serving c = 1-4, long prompts
cd /work/main
rm -f /root/.cache/dspark/sps/*.json
ARGS="--threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark"
echo "=== decode_speed $(date +%T)"; python benchmarks/decode_speed.py $ARGS 2>/dev/null
echo "=== sampled T 0.7 top-p 0.9 $(date +%T)"; python docs/results/session44/sampled_once.py 2>/dev/null
echo "=== serving c = 1, 2, 4 $(date +%T)"
python -m dspark.cli bench --threads 2 --policies none,dspark --concurrency 1,2,4 --duration 15 --max-tokens 96 --output-dir /tmp/s44/bench-final 2>&1 | tail -9 | head -7
echo "=== long prompts $(date +%T)"
(cd /tmp && python /work/main/docs/results/session42/long_context.py 2>&1 | tail -12)
echo "=== done $(date +%T)"
