#!/bin/bash
# (as run in session 55: from a copy of src/ in /tmp/s55/root/src, the widened drafters in /tmp/s55/vocab,
# made by widen_vocab.py; the DSpark-1r Table 1 ran the same eval command on runs/dspark1r-smollm2-135m-vocab16k/final)
# wait for the DSpark-2p training to exit, then Table 1 at T=0 (seed 0) for its final weights, the widened
# draft vocabularies of DSpark-1p at T=0, and DSpark-2p at T=1 (seeds 0-2)
while pgrep -f "deepspec.cli train --config configs/dspark2p" > /dev/null; do sleep 20; done
echo "train gone $(date -u +%T)"
cd /work/main
export PYTHONPATH=/tmp/s55/root/src
D=()
for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do D+=(--data "../shared/eval_datasets/$s.jsonl"); done
if [ -e runs/dspark2p-smollm2-135m-grown/final/model.safetensors ]; then
python -m deepspec.cli eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" --drafter runs/dspark2p-smollm2-135m-grown/final --out runs/eval-dspark2p-t0 > runs/eval-dspark2p-t0.log 2>&1
echo "t0 exited $? $(date -u +%T)"
fi
python -m deepspec.cli eval --threads 2 --batch 8 --temperature 0 --max-samples 20 --max-new-tokens 256 --seed 0 \
  "${D[@]}" --drafter /tmp/s55/vocab/dspark1p-16384 --drafter /tmp/s55/vocab/dspark1p-12288 --out runs/eval-vocab-t0 > runs/eval-vocab-t0.log 2>&1
echo "vocab t0 exited $? $(date -u +%T)"
for seed in 0 1 2; do
  python -m deepspec.cli eval --threads 2 --batch 8 --temperature 1 --max-samples 20 --max-new-tokens 256 --seed $seed \
    "${D[@]}" --drafter runs/dspark2p-smollm2-135m-grown/final --out runs/eval-dspark2p-t1-seed$seed > runs/eval-dspark2p-t1-seed$seed.log 2>&1
  echo "t1 seed $seed exited $? $(date -u +%T)"
done
