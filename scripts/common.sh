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
