"""Session 44: sampling in C (runtime.probabilities / draw) against sampling in torch, batch 1,
sampled decoding (argv: temperature top_p prompts runs), plain / DSpark alone / the default,
variants interleaved per prompt in one process. Sampled outputs differ between variants (the
probabilities' float bits differ), so tok/s over many prompts is the comparison."""
import sys
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import sampling
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
T = float(sys.argv[1]) if len(sys.argv) > 1 else 0.7
P = float(sys.argv[2]) if len(sys.argv) > 2 else 0.9
n_prompts = int(sys.argv[3]) if len(sys.argv) > 3 else 24
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 2
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
drafters = {"plain": None, "dspark": load_drafter("dspark", target), "default": load_drafter("default", target)}
real_runtime = sampling._runtime
impls = {"torch": lambda: None, "C": real_runtime}
variants = [(d, i) for d in drafters for i in impls]
prompts = sample_prompts(n_prompts, "gsm8k,humaneval,math500,mbpp,livecodebench,mt-bench")
ids = [target.encode_prompt(p) for p in prompts]
tot = {v: [0, 0.0, 0] for v in variants}
for rep in range(reps):
    for i, x in enumerate(ids):
        for v in (variants if (rep + i) % 2 == 0 else variants[::-1]):
            sampling._runtime = impls[v[1]]
            d = drafters[v[0]]
            r = generate(target, d, x, SamplingParams(T, P, 0, 1000 * rep + i), 128,
                         policy="fixed" if d is None else "dspark", sps_table=sps)
            t = tot[v]; t[0] += r["num_new_tokens"]; t[1] += r["elapsed_s"]; t[2] += r["rounds"]
    sampling._runtime = real_runtime
    print(f"after run {rep + 1} ({(rep + 1) * n_prompts} prompts each), T {T} top-p {P}:")
    base = {i: tot[("plain", i)][0] / tot[("plain", i)][1] for i in impls}
    for v in variants:
        n, t, rounds = tot[v]
        print(f"  {v[0]:8s} {v[1]:6s} {n / t:6.1f} tok/s  x plain ({v[1]}) {n / t / base[v[1]]:.3f}  x torch {n / t / (tot[(v[0], 'torch')][0] / tot[(v[0], 'torch')][1]):.3f}  tokens/round {n / rounds:.2f}", flush=True)
