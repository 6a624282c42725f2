#!/bin/bash
# Session 47: tau_walk (greedy decoding replayed) of DSpark-1f, 1k and the control on the greedy answers
# to the 200 held-out prompts (the 24k store's prompt mix), next to Table 1's prompts (table1_forced.sh).
cd /work/main
R=docs/results/session47
CACHE=$HOME/.cache/deepspec/features/smollm2-135m-q8
while pgrep -f "session47/table1_forced.sh" > /dev/null; do sleep 10; done
for cfg in dspark1f-smollm2-135m-32k dspark1k-smollm2-135m-t0 dspark1k-ctl-smollm2-135m-t07; do
  deepspec train --config configs/$cfg.toml --eval-only 'data.paths=["data/regen/smollm2-135m-t0-heldout"]' \
    data.limit=0 data.holdout=200 data.features=$CACHE logging.eval_walk=true > $R/heldout-walk-$cfg.json 2> runs/s47-heldout-walk-$cfg.log
done
echo "== done $(date -u +%H:%M:%S)"
