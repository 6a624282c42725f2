"""Session 42: batch-1 greedy decoding after long prompts (the dspark package on PYTHONPATH: the
session's start or its end). Each prompt joins 6-14 benchmark questions into one user turn of
~900-2,000 tokens, then asks for an answer to the last; 96 new tokens; plain, DSpark alone and the
default, each with its policy; tok/s after the first token (prefill excluded) and the prefill's time."""
import sys, time, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
import dspark
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
print("dspark from", dspark.__file__)
target = load_target("smollm2-135m")
pool = sample_prompts(60, "livecodebench,mbpp,humaneval,math500,gsm8k")
prompts = []
for i, k in enumerate((4, 6, 8, 5)):
    qs = pool[i * 14:i * 14 + k]
    text = "\n\n".join(f"Problem {j + 1}:\n{q}" for j, q in enumerate(qs)) + f"\n\nSolve problem {k} only."
    prompts.append(target.encode_prompt(text))
print("prompt tokens:", [len(p) for p in prompts])
variants = {"plain": ("none", "fixed"), "dspark": ("dspark", "dspark"), "default": ("default", "dspark")}
objs = {k: (load_drafter(spec, target), pol, sps_for_policies(pol, target)) for k, (spec, pol) in variants.items()}
tot = {k: [0, 0.0, 0.0] for k in variants}    # tokens after the first, their seconds, prefill seconds
outs = {k: [] for k in variants}
for ids in prompts:
    for k, (d, pol, sps) in objs.items():
        first = []
        t0 = time.perf_counter()
        r = generate(target, d, ids, SamplingParams(), 96, policy=pol, sps_table=sps,
                     on_text=lambda _: first or first.append(time.perf_counter()))
        end = time.perf_counter()
        tot[k][0] += r["num_new_tokens"] - 1; tot[k][1] += end - first[0]; tot[k][2] += first[0] - t0
        outs[k].append(r["token_ids"])
for k, (n, dec, pre) in tot.items():
    same = sum(a == b for a, b in zip(outs[k], outs["plain"]))
    rate, plain_rate = n / dec, tot["plain"][0] / tot["plain"][1]
    print(f"{k}: {rate:.1f} tok/s after the first token, x plain {rate / plain_rate:.2f}; prefill + first token "
          f"{pre / len(prompts):.2f} s a prompt; identical to plain {same}/{len(prompts)}")
