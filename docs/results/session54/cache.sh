#!/bin/bash
# q8 target features for training, the stores DSpark-1p trained on first; resumable (a rerun adds what is missing)
cd /work/main
export PYTHONPATH=/tmp/s54/root/src
OUT=$HOME/.cache/deepspec/features/smollm2-135m-q8
for s in writing-chat algorithm-code-2 competition-math-2 extra-8k t0-heldout competition-math algorithm-code library-code competition-math-3 algorithm-code-3 t0-8k 24k t1-8k t1-heldout; do
  echo "=== $s $(date -u +%T)"
  nice -n 19 python -m deepspec.cli cache --data data/regen/smollm2-135m-$s --taps 1,8,14,20,27 --max-len 1024 --dtype q8 --out $OUT --threads 2 --no-progress || exit 1
done
echo "=== done $(date -u +%T)"
