"""Session 39: the layer stack as one rt_forward call against one rt_layer call per layer,
alternated prompt by prompt in one process, for plain decoding and the drafters named.

    python docs/results/session39/ab.py 20 [none dspark@dspark default@dspark]
"""
"""A/B: the layer stack as one rt_forward call vs one rt_layer call per layer, interleaved per prompt."""
import sys, time, statistics
import dspark
import torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "benchmarks"))
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
rtm = target.model.runtime; arr = rtm.layer_array
specs = sys.argv[2:] or ["none", "dspark@dspark", "default@dspark"]
n_prompts = int(sys.argv[1])
variants = {}
for spec in specs:
    path, _, policy = spec.partition("@")
    variants[spec] = (load_drafter(path, target), policy or "fixed", sps_for_policies(policy or "fixed", target))
prompts = sample_prompts(n_prompts, "gsm8k,humaneval,math500,mbpp,livecodebench")
tot = {(s, f): [0, 0.0] for s in specs for f in ("stack", "layers")}
same = {k: 0 for k in tot}
for i, p in enumerate(prompts):
    ids = target.encode_prompt(p)
    ref = None
    order = ("stack", "layers") if i % 2 == 0 else ("layers", "stack")
    for spec, (drafter, policy, sps) in variants.items():
        for form in order:
            rtm.layer_array = arr if form == "stack" else None
            r = generate(target, drafter, ids, SamplingParams(), 128, policy=policy, sps_table=sps)
            tot[spec, form][0] += r["num_new_tokens"]; tot[spec, form][1] += r["elapsed_s"]
            ref = ref or r["token_ids"]
            same[spec, form] += r["token_ids"] == ref
for (spec, form), (n, t) in tot.items():
    base = tot["none", "layers"]
    print(f"{spec:16s} {form:7s} {n / t:7.1f} tok/s  x plain(layers) {n / t / (base[0] / base[1]):.3f}  "
          f"x same-spec layers {n / t / (tot[spec, 'layers'][0] / tot[spec, 'layers'][1]):.3f}  identical {same[spec, form]}/{len(prompts)}")
