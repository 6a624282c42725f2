#!/bin/bash
# the reviewed final code, nothing else running: batch 1 (session 42's command) and long prompts
cd /work/main
echo "=== decode_speed $(date +%T)"
python benchmarks/decode_speed.py --threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark 2>/dev/null
echo "=== long prompts $(date +%T)"
(cd /tmp && python /work/main/docs/results/session42/long_context.py 2>&1 | tail -4)
echo "=== done $(date +%T)"
