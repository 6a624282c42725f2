"""A/B: a decoder layer as one C call against the step form (L.args_ptr = None), interleaved per prompt (session 36).
   python docs/results/session36/ab_one_call_layer.py [prompts]"""
import sys, statistics
sys.path.insert(0, "benchmarks")
import dspark, torch
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from decode_speed import sample_prompts
torch.set_num_threads(2)
target = load_target("smollm2-135m")
variants = {"plain": ("none", "fixed"), "ngram": ("ngram", "fixed"), "dspark@dspark": ("dspark", "dspark"),
            "default@dspark": ("default", "dspark")}
drafters = {k: load_drafter(s, target) for k, (s, _) in variants.items()}
def layer_lists():
    out = [target.model.runtime.layers]
    for d in drafters.values():
        inner = getattr(d, "drafter", d)
        rt = getattr(inner, "runtime", None)
        if rt is not None: out.append(rt.layers)
    return out
saved = [[L.args_ptr for L in ls] for ls in layer_lists()]
def mode(on):
    for ls, ps in zip(layer_lists(), saved):
        for L, p in zip(ls, ps): L.args_ptr = p if on else None
sps = sps_for_policies("dspark", target)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
prompts = sample_prompts(n, "gsm8k,humaneval,math500,mbpp,livecodebench")
tot, same = {}, {}
for i, p in enumerate(prompts):
    ids = target.encode_prompt(p)
    order = (("steps", False), ("one call", True)) if i % 2 == 0 else (("one call", True), ("steps", False))
    for impl, on in order:
        mode(on)
        ref = None
        for k, (spec, pol) in variants.items():
            r = generate(target, drafters[k], ids, SamplingParams(), 128, policy=pol, sps_table=sps if pol == "dspark" else None)
            a = tot.setdefault((k, impl), [0, 0.0, []]); a[0] += r["num_new_tokens"]; a[1] += r["elapsed_s"]; a[2].append(r["tau"])
            ref = ref or r["token_ids"]
            same[(k, impl)] = same.get((k, impl), 0) + (r["token_ids"] == ref)
    print(i, file=sys.stderr)
print(f"batch-1 greedy, {n} prompts (gsm8k,humaneval,math500,mbpp,livecodebench) x 128 tokens; layer as one C call vs in steps, interleaved")
print("| variant | layer | tok/s | x plain (same layer) | x own 'steps' | tau | identical to plain |")
print("|---|---|---|---|---|---|---|")
for (k, impl), (nt, t, taus) in sorted(tot.items(), key=lambda kv: (kv[0][1], list(variants).index(kv[0][0]))):
    pl = tot[("plain", impl)]; st = tot[(k, "steps")]
    print(f"| {k} | {impl} | {nt/t:.1f} | {nt/t/(pl[0]/pl[1]):.2f} | {nt/t/(st[0]/st[1]):.3f} | {statistics.mean(taus):.2f} | {same[(k, impl)]}/{n} |")
