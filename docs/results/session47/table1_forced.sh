#!/bin/bash
# Session 47: does teacher forcing on greedy answers predict Table 1 at T = 0? Table 1's own prompts
# (the first 20 of each set's seed-0 shuffle, first turn, as `deepspec eval` reads them) answered
# greedily for 256 tokens, then each drafter scored on them per set with `--eval-only`: tau_greedy
# (uniform anchors) and tau_walk (greedy decoding replayed).
# Scoring only: nothing trains on these answers (they stay under runs/).
cd /work/main
R=docs/results/session47
while pgrep -f "session47/(chain|heldout_walk).sh" > /dev/null; do sleep 20; done
set -e
mkdir -p runs/s47-t1p
for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do
  python -c "import json, sys; from pathlib import Path; from deepspec.eval.evaluate import load_eval_prompts
for i, p in enumerate(load_eval_prompts(Path('../shared/eval_datasets/$s.jsonl'), 20, 0)):
    print(json.dumps({'id': f'table1-$s-{i}', 'conversations': [{'role': 'user', 'content': p}]}))" > runs/s47-t1p/$s-prompts.jsonl
  [ -s runs/s47-t1p/$s.jsonl ] || deepspec regenerate --prompts runs/s47-t1p/$s-prompts.jsonl --out runs/s47-t1p/$s.jsonl \
    --temperature 0 --top-p 1 --top-k 0 --max-new-tokens 256 --max-batch 20 --threads 2 > /dev/null 2>&1
done
for cfg in dspark1f-smollm2-135m-32k dspark1k-smollm2-135m-t0 dspark1k-ctl-smollm2-135m-t07; do
  for s in gsm8k math500 humaneval mbpp livecodebench mt-bench; do
    [ -s runs/s47-t1p/score-$cfg-$s.json ] && continue
    # max_len 2048: three livecodebench prompts and their answers pass 1024 tokens
    deepspec train --config configs/$cfg.toml --eval-only "data.paths=[\"runs/s47-t1p/$s.jsonl\"]" data.limit=0 \
      data.holdout=20 data.max_len=2048 data.features=online logging.eval_walk=true > runs/s47-t1p/score-$cfg-$s.json 2> runs/s47-t1p/score-$cfg-$s.log
  done
done
echo "== done $(date -u +%H:%M:%S)"
