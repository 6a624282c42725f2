#!/bin/bash
# Session 45: the T = 1 stores' features, cached once (q8, the drafters' taps), outside the checkout
cd /work/main
C=$HOME/.cache/deepspec/features/smollm2-135m-q8
for d in data/regen/smollm2-135m-t1-heldout data/regen/smollm2-135m-t1-8k; do
  echo "== $d $(date -u +%H:%M:%S)"
  deepspec cache --data "$d" --taps 1,8,14,20,27 --max-len 1024 --dtype q8 --out "$C" --threads 2 --products int8 --no-progress || exit 1
done
echo "== cached $(date -u +%H:%M:%S)"
