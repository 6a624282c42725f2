#!/usr/bin/env bash
# More of issue 15's data once the 24k set was answered in full: 8,000 templated code and math
# prompts that the 24k set does not hold (`deepspec prompts --exclude`; ShareGPT's chat and code are
# used up), answered by SmolLM2 itself with the 24k set's settings into a shard directory of their
# own, committed as it grows. Resumable: rerun it on any machine and it continues after the last
# committed shard. A training config reads both stores (`[data] paths`).
#
#   scripts/regen-smollm2-extra.sh            # runs until every prompt is answered (~2.5 h on 2 cores)
source "$(dirname "$0")/common.sh"
PROMPTS=data/prompts/train-extra-8k.jsonl
ensure_prompts_24k   # --exclude reads it
ensure_prompts "$PROMPTS" --num 8000 --seed 1 --mix code=0.5,math=0.5 --max-user-turns 2 --max-chars 4000 \
  --exclude "$PROMPTS_24K"
exec deepspec regenerate --prompts "$PROMPTS" --out data/regen/smollm2-135m-extra-8k --shard-size 500 \
  --max-batch 32 --max-new-tokens 512 --threads "$THREADS"
