#!/bin/bash
# long contexts (session 39's longctx.py), Gemma 3 and a busy machine: start (f00b3c6) and end, alternated
cd /work/main
for i in 1 2; do
  echo "=== longctx start run $i"; (cd /tmp && PYTHONPATH=/tmp/A/src python /work/main/docs/results/session39/longctx.py start 2>/dev/null)
  echo "=== longctx end run $i"; python docs/results/session39/longctx.py end 2>/dev/null
done
G="--target gemma3-270m --threads 2 --prompts 8 --max-new-tokens 64 --no-hf --no-llama-cpp"
echo "=== gemma start"; (cd /tmp && PYTHONPATH=/tmp/A/src python /work/main/benchmarks/decode_speed.py $G 2>/dev/null | grep '^|')
echo "=== gemma end"; python benchmarks/decode_speed.py $G 2>/dev/null | grep '^|'
echo "=== busy start"; (cd /tmp && PYTHONPATH=/tmp/A/src python /work/main/benchmarks/busy_machine.py --busy 2 --repeats 3 2>/dev/null | tail -8)
echo "=== busy end"; python benchmarks/busy_machine.py --busy 2 --repeats 3 2>/dev/null | tail -8
