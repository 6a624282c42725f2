# Shared by the reproduce-*.sh scripts: strict mode, the repository root, thread count and the
# benchmark sets every evaluation reads.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
THREADS=${THREADS:-2}
EVAL_TOKENS=${EVAL_TOKENS:-96}
SETS=(gsm8k math500 humaneval mbpp livecodebench mt-bench)
DATA=()
for s in "${SETS[@]}"; do DATA+=(--data "../shared/eval_datasets/$s.jsonl"); done
mkdir -p runs
# ensure_prompts FILE ARGS...: a prompt set that is rebuilt, not committed (deterministic, seconds);
# `deepspec prompts ARGS... --out FILE` runs unless FILE matches the hash in its committed manifest
ensure_prompts() {
  local out=$1 manifest=${1%.jsonl}.manifest.json
  shift
  sha256sum --status -c <(python -c "import json, sys; print(json.load(open(sys.argv[1]))['sha256'], sys.argv[2])" \
    "$manifest" "$out" 2>/dev/null) 2>/dev/null || deepspec prompts "$@" --out "$out"
}
# the 24k set every SmolLM2 store's prompts come from (scripts/regen-smollm2-*.sh)
PROMPTS_24K=data/prompts/train-24k.jsonl
ensure_prompts_24k() { ensure_prompts "$PROMPTS_24K" --num 24000 --max-user-turns 2 --max-chars 4000; }
# regen_store PROMPTS OUT SHARD_SIZE ARGS...: answer PROMPTS into the shard directory OUT (resumable;
# batches of 32), sampling as ARGS say
regen_store() { deepspec regenerate --prompts "$1" --out "$2" --shard-size "$3" --max-batch 32 "${@:4}"; }
