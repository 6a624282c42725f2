"""Session 55: 3 x 10 math and code prompts, 128 tokens, DSpark with its policy (py-spy's workload).
"""
import sys
sys.path.insert(0, "/work/main/benchmarks")
import dspark, torch
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
dr = load_drafter(sys.argv[1], target)
sps = sps_for_policies("dspark", target)
prompts = [target.encode_prompt(p) for p in sample_prompts(10, "gsm8k,humaneval,math500,mbpp,livecodebench")]
generate(target, dr, prompts[0], SamplingParams(), 32, policy="dspark", sps_table=sps)
import time; t0 = time.perf_counter()
for r in range(3):
    for ids in prompts: generate(target, dr, ids, SamplingParams(), 128, policy="dspark", sps_table=sps)
print("done", time.perf_counter() - t0)
