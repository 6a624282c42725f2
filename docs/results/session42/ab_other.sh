#!/bin/bash
# serving (c = 1-4) and Gemma 3: the session's start (f3a0722, a git worktree at /tmp/A) and blocked keys (e1a1921), alternated, nothing else running
cd /work/main
ARGS="--threads 2 --policies none,dspark --concurrency 1,2,4 --duration 15 --max-tokens 96"
for i in 1 2; do
  echo "=== serving start (f3a0722) run $i $(date +%T)"; (cd /tmp && PYTHONPATH=/tmp/A/src python -m dspark.cli bench $ARGS --output-dir /tmp/s42/bench-start-$i 2>&1 | tail -9 | head -7)
  echo "=== serving end run $i $(date +%T)"; python -m dspark.cli bench $ARGS --output-dir /tmp/s42/bench-end-$i 2>&1 | tail -9 | head -7
done
G="--target gemma3-270m --prompts 8 --max-new-tokens 64 --threads 2 --no-hf --no-llama-cpp"
echo "=== gemma start $(date +%T)"; (cd /tmp && PYTHONPATH=/tmp/A/src python /work/main/benchmarks/decode_speed.py $G 2>/dev/null | grep '^|')
echo "=== gemma end $(date +%T)"; python benchmarks/decode_speed.py $G 2>/dev/null | grep '^|'
echo "=== done $(date +%T)"
