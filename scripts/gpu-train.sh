#!/usr/bin/env bash
# Train a drafter within a wall-clock budget, for a GPU lent for a few minutes (runs anywhere).
#
#   BUDGET=400 scripts/gpu-train.sh configs/dspark1e-smollm2-135m-32k.toml [section.key=value ...]
#
# 1. A short probe (PROBE_STEPS steps from a fresh drafter, in PROBE_DIR, nothing kept) measures
#    seconds per step on this machine. PROBE_ONLY=1 stops there, so the probe can run while the
#    rest of a run's files are still on their way; a later call with the same PROBE_DIR reuses it.
# 2. The run gets schedule.total_steps = the steps that fit in BUDGET seconds (less a margin for its
#    held-out evaluations; at most MAX_STEPS when set), so the cosine reaches 0 on time, not cut
#    off half way.
# 3. Its carry (logging.carry_dir: fp16 weights, state, log) is what to bring back and commit; on
#    any machine `deepspec train --config ...` continues from it.
# scripts/gpu-lease.sh gets the code, data and target onto a GPU lent through the `run` tool.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:?usage: BUDGET=seconds scripts/gpu-train.sh CONFIG [section.key=value ...]}
shift
budget=${BUDGET:-400}
probe_steps=${PROBE_STEPS:-30}
probe_dir=${PROBE_DIR:-$(mktemp -d)}
train=(python3 -m deepspec.cli train --config "$config")

# seconds per step: the median over the probe's second half (the first steps warm up kernels)
s_per_step() {
    python3 - "$probe_dir/run/train_log.jsonl" <<'EOF'
import json, statistics, sys
rows = [r for r in map(json.loads, filter(str.strip, open(sys.argv[1]))) if r.get("split") == "train"]
rows = [r for r in rows if r["step"] > max(r["step"] for r in rows) // 2]
if not rows:
    sys.exit("the probe logged no step past its warm-up")
print(statistics.median(r["s_per_step"] for r in rows))
EOF
}

if ! s=$(s_per_step 2>/dev/null); then
    echo "probe: $probe_steps steps in $probe_dir/run" >&2
    "${train[@]}" --resume never --max-steps "$probe_steps" "$@" out_dir="$probe_dir/run" init_from= \
        logging.log_every=1 logging.eval_every=0 data.holdout=0 logging.carry_dir= \
        logging.checkpoint_every=100000 logging.progress=false
    s=$(s_per_step)
fi
echo "probe: $s s/step" >&2
[[ ${PROBE_ONLY:-0} == 1 ]] && exit 0

steps=$(python3 -c "n, cap = max(1, int(0.9 * $budget / $s)), ${MAX_STEPS:-0}; print(min(n, cap) if cap else n)")
echo "run: $steps steps in ${budget} s (${s} s/step, 10 % kept for evaluations)" >&2
"${train[@]}" --resume never --max-steps "$steps" "$@"
