#!/usr/bin/env bash
# Session 48's background chain: after scripts/regen-smollm2-wide.sh (pid $1) ends, the two new
# stores' features into the q8 cache, then DSpark-1l on them.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
while kill -0 "$1" 2>/dev/null; do sleep 20; done
for d in data/regen/smollm2-135m-library-code data/regen/smollm2-135m-competition-math; do
  [ -e "$d/manifest.json" ] || { echo "missing $d"; exit 1; }
  echo "== cache $d $(date -u +%H:%M:%S)"
  deepspec cache --data "$d" --taps 1,8,14,20,27 --max-len 1024 --dtype q8 --out "$CACHE" --threads 2
done
echo "== train $(date -u +%H:%M:%S)"
deepspec train --config configs/dspark1l-smollm2-135m-wide.toml data.features="$CACHE"
echo "== done $(date -u +%H:%M:%S)"
