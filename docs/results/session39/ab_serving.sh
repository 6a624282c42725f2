#!/bin/bash
# serving sweep: the session's start (d934c2d) and its end, alternated (two runs each), nothing else running
cd /work/main
ARGS="--threads 2 --policies none,dspark --concurrency 1,2,4,16,32 --duration 20 --max-tokens 96"
for i in 1 2; do
  echo "=== start (d934c2d) run $i"; (cd /tmp && PYTHONPATH=/tmp/s39/start/src python -m dspark.cli bench $ARGS --output-dir /tmp/s39/bench-start-$i 2>&1 | tail -16)
  echo "=== end run $i"; python -m dspark.cli bench $ARGS --output-dir /tmp/s39/bench-end-$i 2>&1 | tail -16
done
