"""Session 44: batch-1 sampled decoding (T 0.7 top-p 0.9), plain / DSpark alone / the default, 24
prompts, variants interleaved per prompt; tok/s and x plain."""
import sys
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
drafters = {"plain": None, "dspark": load_drafter("dspark", target), "default": load_drafter("default", target)}
prompts = sample_prompts(24, "gsm8k,humaneval,math500,mbpp,livecodebench,mt-bench")
ids = [target.encode_prompt(p) for p in prompts]
tot = {v: [0, 0.0] for v in drafters}
for i, x in enumerate(ids):
    for v in (list(drafters) if i % 2 == 0 else list(drafters)[::-1]):
        d = drafters[v]
        r = generate(target, d, x, SamplingParams(0.7, 0.9, 0, i), 128, policy="fixed" if d is None else "dspark", sps_table=sps)
        tot[v][0] += r["num_new_tokens"]; tot[v][1] += r["elapsed_s"]
base = tot["plain"][0] / tot["plain"][1]
print(" | ".join(f"{v} {n / t:.1f} tok/s ({n / t / base:.3f}x)" for v, (n, t) in tot.items()))
