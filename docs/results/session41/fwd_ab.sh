#!/bin/bash
# Python time around the fast forward's C calls: the session's start (5096182, /tmp/A) and the end, alternated
for i in 1 2; do
  for b in start end; do
    for t in "" taps; do
      echo "=== $b run $i $t"
      if [ $b = start ]; then (cd /tmp && PYTHONPATH=/tmp/A/src python /work/main/docs/results/session41/fwd_overhead.py $t)
      else (cd /tmp && python /work/main/docs/results/session41/fwd_overhead.py $t); fi
    done
  done
done
