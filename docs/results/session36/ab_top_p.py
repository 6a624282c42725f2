"""A/B: top-p by a full sort (the old sampling._top_p, swapped back in) against the candidates (session 36).
   python docs/results/session36/ab_top_p.py [prompts]"""
import sys, time, statistics
sys.path.insert(0, "benchmarks")
import dspark, torch
from dspark import sampling
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from decode_speed import sample_prompts
torch.set_num_threads(2)
new_top_p = sampling._top_p
def old_top_p(probs, top_p):
    sp, order = probs.sort(dim=-1, descending=True)
    return torch.zeros_like(probs).scatter_(-1, order, sampling._nucleus(sp, top_p))
target = load_target("smollm2-135m")
variants = {"plain": ("none", "fixed"), "default@dspark": ("default", "dspark"), "dspark@dspark": ("dspark", "dspark")}
drafters = {k: load_drafter(s, target) for k, (s, _) in variants.items()}
sps = sps_for_policies("dspark", target)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
prompts = sample_prompts(n, "gsm8k,humaneval,mt-bench,math500,mbpp")
tot = {}
for i, p in enumerate(prompts):
    ids = target.encode_prompt(p)
    for impl, f in (("sort", old_top_p), ("candidates", new_top_p)):
        sampling._top_p = f
        for k, (spec, pol) in variants.items():
            r = generate(target, drafters[k], ids, SamplingParams(0.7, top_p=0.9, seed=i), 128, policy=pol,
                         sps_table=sps if pol == "dspark" else None)
            a = tot.setdefault((k, impl), [0, 0.0, []]); a[0] += r["num_new_tokens"]; a[1] += r["elapsed_s"]; a[2].append(r["tau"])
base = tot[("plain", "sort")][0] / tot[("plain", "sort")][1]
for (k, impl), (nt, t, taus) in tot.items():
    print(f"| {k} | {impl} | {nt/t:.1f} tok/s | {nt/t/base:.2f}x plain-sort | {nt/t/(tot[(k,'sort')][0]/tot[(k,'sort')][1]):.2f}x own sort | tau {statistics.mean(taus):.2f} |")
