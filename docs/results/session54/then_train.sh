#!/bin/bash
# wait until the cache chain has finished t0-heldout (it starts competition-math next), stop it, train DSpark-2p
while ! grep -q "=== competition-math " /tmp/s54/cache.log; do sleep 20; done
pkill -f "/tmp/s54/cache.sh"; sleep 1; pkill -f "deepspec.cli cache"; sleep 5
echo "cache stopped $(date -u +%T)"
cd /work/main
PYTHONPATH=/tmp/s54/root2/src python -m deepspec.cli train --config configs/dspark2p-smollm2-135m-grown.toml data.features=$HOME/.cache/deepspec/features/smollm2-135m-q8 > /tmp/s54/train2p.log 2>&1
echo "train exited $? $(date -u +%T)"
