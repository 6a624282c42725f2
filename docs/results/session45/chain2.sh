#!/bin/bash
# Session 45: the cache, then DSpark-1i and DFlash-T1 through the pipeline script, then the evaluations
cd /work/main
while pgrep -f cache_t1.sh > /dev/null; do sleep 20; done
grep -q "== cached" /tmp/s45/cache_t1.log || { echo "cache failed"; exit 1; }
for step in train-dspark1i train-dflash-t1; do
  echo "== $step $(date -u +%H:%M:%S)"
  STEPS=$step scripts/train-smollm2-24k.sh > runs/$step.log 2>&1
  echo "== $step rc=$? $(date -u +%H:%M:%S)"
done
/tmp/s45/after_1i.sh
