#!/bin/bash
# the final code alone, nothing else running: batch 1 twice (a fresh SPS table first), serving c = 1-4
# and 16 / 32, Gemma 3, long prompts
cd /work/main
mkdir -p /tmp/s43
rm -f /root/.cache/dspark/sps/*.json
ARGS="--threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark"
for i in 1 2; do
  echo "=== decode_speed run $i $(date +%T)"; python benchmarks/decode_speed.py $ARGS 2>/dev/null
done
python -c "import json; d = json.load(open('/root/.cache/dspark/sps/smollm2-135m-cpu-float32-t2-packed-fast.json')); print('SPS one sequence, ms:', d['one_sequence_ms_per_step'], 'measured again:', d['one_sequence_remeasured'])"
echo "=== serving c = 1, 2, 4 $(date +%T)"
python -m dspark.cli bench --threads 2 --policies none,dspark --concurrency 1,2,4 --duration 15 --max-tokens 96 --output-dir /tmp/s43/bench-final 2>&1 | tail -9 | head -7
echo "=== serving c = 16, 32 $(date +%T)"
python -m dspark.cli bench --threads 2 --policies none,dspark --concurrency 16,32 --duration 20 --max-tokens 96 --output-dir /tmp/s43/bench-final-hi 2>&1 | tail -5 | head -5
echo "=== gemma $(date +%T)"
python benchmarks/decode_speed.py --target gemma3-270m --prompts 8 --max-new-tokens 64 --threads 2 --no-hf --no-llama-cpp 2>/dev/null | grep '^|'
echo "=== long prompts $(date +%T)"
(cd /tmp && python /work/main/docs/results/session42/long_context.py 2>&1 | tail -12)
echo "=== done $(date +%T)"
