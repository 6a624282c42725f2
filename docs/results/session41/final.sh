#!/bin/bash
# the final code: batch-1 decode_speed (20 math and code prompts), then a busy machine (two CPU hogs beside it)
# (decode_speed-final.log was then rerun by hand with the same command after deleting the cached SPS table, which a
# test had profiled during the suite; RESULTS.md, session 41)
cd /work/main
python benchmarks/decode_speed.py --threads 2 --max-new-tokens 128 --sets gsm8k,humaneval,math500,mbpp,livecodebench --prompts 20 --no-hf --no-llama-cpp --drafter dspark@dspark --drafter default@dspark 2>/dev/null > docs/results/session41/decode_speed-final.log
python benchmarks/busy_machine.py --busy 2 --repeats 3 > docs/results/session41/busy_machine.log 2>&1
