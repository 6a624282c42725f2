"""Session 44: the block rule in one C call (rt_block_verdict) against its torch ops, batch 1 at
T 0.7 top-p 0.9 (sampling in C for both), DSpark alone and the default, variants interleaved per
prompt in one process."""
import sys, types
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import sampling, verify
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
n_prompts = int(sys.argv[1]) if len(sys.argv) > 1 else 24
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
drafters = {"dspark": load_drafter("dspark", target), "default": load_drafter("default", target)}
rules = {"C": sampling, "torch": types.SimpleNamespace(cpu_kernels=lambda *rows: None)}
variants = [(d, r) for d in drafters for r in rules]
prompts = sample_prompts(n_prompts, "gsm8k,humaneval,math500,mbpp,livecodebench,mt-bench")
ids = [target.encode_prompt(p) for p in prompts]
tot = {v: [0, 0.0, 0] for v in variants}
for rep in range(reps):
    for i, x in enumerate(ids):
        for v in (variants if (rep + i) % 2 == 0 else variants[::-1]):
            verify.sampling = rules[v[1]]
            r = generate(target, drafters[v[0]], x, SamplingParams(0.7, 0.9, 0, 1000 * rep + i), 128, policy="dspark", sps_table=sps)
            t = tot[v]; t[0] += r["num_new_tokens"]; t[1] += r["elapsed_s"]; t[2] += r["rounds"]
    verify.sampling = sampling
    print(f"after run {rep + 1} ({(rep + 1) * n_prompts} prompts each):")
    for v in variants:
        n, t, rounds = tot[v]
        base = tot[(v[0], "torch")]
        print(f"  {v[0]:8s} block rule in {v[1]:6s} {n / t:6.1f} tok/s  x torch {n / t / (base[0] / base[1]):.3f}  tokens/round {n / rounds:.2f}", flush=True)
