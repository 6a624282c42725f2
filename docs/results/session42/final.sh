#!/bin/bash
# the final code (fcc08b4) alone, nothing else running: batch 1 (a fresh SPS table), serving c = 1-4 and 16 / 32
cd /work/main
rm -f /root/.cache/dspark/sps/*.json
echo "=== decode_speed $(date +%T)"
python benchmarks/decode_speed.py --threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark 2>/dev/null
echo "=== serving c = 1, 2, 4 $(date +%T)"
python -m dspark.cli bench --threads 2 --policies none,dspark --concurrency 1,2,4 --duration 15 --max-tokens 96 --output-dir /tmp/s42/bench-final 2>&1 | tail -9 | head -7
echo "=== serving c = 16, 32 $(date +%T)"
python -m dspark.cli bench --threads 2 --policies none,dspark --concurrency 16,32 --duration 20 --max-tokens 96 --output-dir /tmp/s42/bench-final-hi 2>&1 | tail -5 | head -5
echo "=== done $(date +%T)"
