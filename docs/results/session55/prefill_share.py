"""Session 55: the prompt's prefill (time to the first token) and its share of a 128-token answer's time,
plain, DSpark alone and the default, 20 math and code prompts.
"""
import sys, statistics
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
specs = {"plain": ("none", "fixed"), "dspark": ("dspark", "dspark"), "default": ("default", "dspark")}
drafters = {k: (load_drafter(p, target), pol, sps_for_policies(pol, target)) for k, (p, pol) in specs.items()}
prompts = sample_prompts(20, "gsm8k,humaneval,math500,mbpp,livecodebench")
R = {k: [] for k in specs}
for p in prompts:
    ids = target.encode_prompt(p)
    for k, (dr, pol, sps) in drafters.items():
        r = generate(target, dr, ids, SamplingParams(), 128, policy=pol, sps_table=sps)
        R[k].append((len(ids), r["first_token_s"], r["elapsed_s"], r["num_new_tokens"]))
for k, v in R.items():
    print(k, "prompt tokens", sum(x[0] for x in v) / len(v), "ttft ms", statistics.mean(x[1] for x in v) * 1e3,
          "share", sum(x[1] for x in v) / sum(x[2] for x in v), "tok/s", sum(x[3] for x in v) / sum(x[2] for x in v))
