"""Session 55: batch 1 on the committed qkernels build and a variant (-D defines), interleaved prompt by prompt.

Apply weight_locality.diff or spin_rounds.diff first (they make the macro settable), then
    python docs/results/session55/builds_ab.py WEIGHT_LOCALITY=0 10
    python docs/results/session55/builds_ab.py SPIN_ROUNDS=40000 10
"""
import sys
import dspark, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.models import runtime, packed
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
base = runtime.lib()
var = runtime._Lib(packed.compiled("qkernels", tuple(sys.argv[1].split(","))))
libs = {"base": base, "var": var}
specs = {"plain": ("none", "fixed"), "dspark": ("dspark", "dspark"), "default": ("default", "dspark")}
drafters = {k: (load_drafter(p, target), pol, sps_for_policies(pol, target)) for k, (p, pol) in specs.items()}
prompts = sample_prompts(int(sys.argv[2]) if len(sys.argv) > 2 else 20, "gsm8k,humaneval,math500,mbpp,livecodebench")
tot = {}; outs = {}
for i, p in enumerate(prompts):
    ids = target.encode_prompt(p)
    order = list(libs) if i % 2 == 0 else list(libs)[::-1]
    for ln in order:
        runtime._LIB = libs[ln]
        for k, (dr, pol, sps) in drafters.items():
            r = generate(target, dr, ids, SamplingParams(), 128, policy=pol, sps_table=sps)
            t = tot.setdefault((ln, k), [0, 0.0, 0, 0.0])
            t[0] += r["num_new_tokens"]; t[1] += r["elapsed_s"]
            t[2] += r["num_new_tokens"] - 1; t[3] += r["elapsed_s"] - r["first_token_s"]
            outs.setdefault(i, {})[(ln, k)] = r["token_ids"]
same = sum(all(v == o[("base", "plain")] for v in o.values()) for o in outs.values())
print(f"{sys.argv[1]}: {len(prompts)} prompts, 128 tokens; identical to plain on {same}/{len(prompts)}")
print("| build | variant | tok/s | x plain | x plain, decoding | var / base |")
print("|---|---|---|---|---|---|")
for ln in libs:
    for k in specs:
        n, s, nd, sd = tot[(ln, k)]
        pn, ps, pnd, psd = tot[(ln, "plain")]
        on, os_ = tot[("base", k)][:2]
        print(f"| {ln} | {k} | {n/s:.1f} | {(n/s)/(pn/ps):.3f} | {(nd/sd)/(pnd/psd):.3f} | {(n/s)/(on/os_):.3f} |")
