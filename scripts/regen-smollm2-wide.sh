#!/usr/bin/env bash
# Wider code and math prompts for issue 15's T = 0 goal. Session 47 found DSpark-1f strong on the
# templated families it trained on (tau_walk 2.9) and at the benchmarks' level on anything else
# (users' code 2.26, Table 1 2.24). These two sets come from generators that do not repeat a few
# dozen templates, answered by SmolLM2 with the 24k set's settings (T 0.7, top-p 0.8, top-k 20):
#   data/regen/smollm2-135m-library-code     2,500 tasks built from the standard library's documented
#                                            functions (implement a stub or a description, explain,
#                                            test, port, use; `--generators code=library`)
#   data/regen/smollm2-135m-competition-math 2,500 competition-style problems in LaTeX, the register of
#                                            math500 (`--generators math=competition`)
#   data/regen/smollm2-135m-competition-math-2  2,500 more (seed 1, excluding the first set), started in
#                                            session 48 after the first set lifted math500 by 12 % at T = 0
#   data/regen/smollm2-135m-algorithm-code   2,500 algorithmic tasks in the code benchmarks' own forms
#                                            (HumanEval stubs, MBPP one-liners, LeetCode and Codeforces /
#                                            AtCoder statements; `--generators code=algorithms`), session 49,
#                                            after the library tasks did not move the code sets
#   data/regen/smollm2-135m-algorithm-code-2 2,500 more (seed 1, excluding the first set), started in
#                                            session 49 after the first set lifted livecodebench by 10 %
#   data/regen/smollm2-135m-writing-chat     2,500 two-turn chats in the register of mt-bench's first turns
#                                            (writing, roleplay, extraction, STEM, humanities, reasoning, with
#                                            a follow-up; `--generators chat=writing`), session 50: mt-bench
#                                            is Table 1's weakest set and had no source in its register
#   data/regen/smollm2-135m-algorithm-code-3 and -competition-math-3  2,500 more of each (seed 2, excluding
#                                            the earlier sets), session 52: the first two of each lifted
#                                            Table 1 at T = 0 by 2.9 % and 1.0 % (DSpark-1n, -1o)
# The prompt files exclude the 24k and extra-8k sets and are committed with their manifests (the
# library's functions depend on the Python version). Resumable, shard by shard; commit as it grows.
#
#   scripts/regen-smollm2-wide.sh
source "$(dirname "$0")/common.sh"
ensure_prompts_24k   # --exclude reads it
COMMON=(--num 2500 --seed 0 --max-user-turns 2 --max-chars 4000 --exclude "$PROMPTS_24K"
        --exclude data/prompts/train-extra-8k.jsonl)
# wide NAME ARGS...: the prompt set data/prompts/train-NAME.jsonl (COMMON plus ARGS), answered into
# data/regen/smollm2-135m-NAME
wide() {
  ensure_prompts "data/prompts/train-$1.jsonl" "${COMMON[@]}" "${@:2}"
  regen_store "data/prompts/train-$1.jsonl" "data/regen/smollm2-135m-$1" 250 --max-new-tokens 512 --threads "$THREADS"
}
wide library-code --mix code=1 --generators code=library
wide competition-math --mix math=1 --generators math=competition
wide competition-math-2 --seed 1 --mix math=1 --generators math=competition \
  --exclude data/prompts/train-competition-math.jsonl
wide algorithm-code --mix code=1 --generators code=algorithms
wide algorithm-code-2 --seed 1 --mix code=1 --generators code=algorithms \
  --exclude data/prompts/train-algorithm-code.jsonl
wide writing-chat --mix chat=1 --generators chat=writing
wide algorithm-code-3 --seed 2 --mix code=1 --generators code=algorithms \
  --exclude data/prompts/train-algorithm-code.jsonl --exclude data/prompts/train-algorithm-code-2.jsonl
wide competition-math-3 --seed 2 --mix math=1 --generators math=competition \
  --exclude data/prompts/train-competition-math.jsonl --exclude data/prompts/train-competition-math-2.jsonl
