#!/bin/bash
# long_context.py: the session's start (f3a0722, a git worktree at /tmp/A) and blocked keys (e1a1921), alternated, nothing else running
cd /work/main
for i in 1 2; do
  echo "=== start (f3a0722) run $i $(date +%T)"; (cd /tmp && PYTHONPATH=/tmp/A/src python /work/main/docs/results/session42/long_context.py 2>/dev/null)
  echo "=== blocked keys run $i $(date +%T)"; python docs/results/session42/long_context.py 2>/dev/null
done
echo "=== done $(date +%T)"
