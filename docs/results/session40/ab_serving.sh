#!/bin/bash
# serving sweep: the session's start (f00b3c6) and its end, alternated, nothing else running
cd /work/main
ARGS="--threads 2 --policies none,dspark --concurrency 1,2,4,16,32 --duration 20 --max-tokens 96"
for i in ${RUNS:-1 2}; do
  echo "=== start (f00b3c6) run $i $(date +%T)"; (cd /tmp && PYTHONPATH=/tmp/A/src python -m dspark.cli bench $ARGS --output-dir /tmp/s40/bench-start-$i 2>&1 | tail -16)
  echo "=== end run $i $(date +%T)"; python -m dspark.cli bench $ARGS --output-dir /tmp/s40/bench-end-$i 2>&1 | tail -16
done
