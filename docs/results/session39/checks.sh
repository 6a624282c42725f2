#!/bin/bash
# decode-path checks on the final code: Gemma 3 (sliding layers) and sampled decoding at T 0.7
cd /work/main
python benchmarks/decode_speed.py --target gemma3-270m --threads 2 --prompts 8 --max-new-tokens 64 --no-hf --no-llama-cpp 2>/dev/null
python benchmarks/sampled_speed.py --drafter default@dspark --drafter dspark@dspark --temperature 0.7 --top-p 0.9 --prompts 12 2>/dev/null | tail -12
