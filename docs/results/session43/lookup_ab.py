"""Session 43: n-gram lookup from the request's index (NgramDrafter.lookup_request) against the scan
of the whole context (lookup), the default drafter ngram+dspark at batch 1, greedy: on session 42's
long prompts (6-14 benchmark questions joined, ~900-2,000 tokens) and on 20 math and code prompts;
the two forms interleaved per prompt in one process, two runs; tok/s after the first token (prefill
excluded). Outputs must match plain and each other."""
import sys, time
import torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.drafters.ngram import NgramDrafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams

torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
drafter = load_drafter("default", target)
indexed = NgramDrafter.lookup_request
sys.path.insert(0, "/work/main/tests")
from lossless import scan_lookup  # noqa: E402  (the scan NgramDrafter.lookup was until the index)
scan = lambda self, seq: scan_lookup(seq.tokens, self.gamma, self.min_ngram, self.max_ngram)  # noqa: E731
pool = sample_prompts(60, "livecodebench,mbpp,humaneval,math500,gsm8k")
long = []
for i, k in enumerate((4, 6, 8, 5)):          # session42/long_context.py's prompts
    qs = pool[i * 14:i * 14 + k]
    long.append(target.encode_prompt("\n\n".join(f"Problem {j + 1}:\n{q}" for j, q in enumerate(qs))
                                     + f"\n\nSolve problem {k} only."))
code_math = sample_prompts(20, "gsm8k,humaneval,math500,mbpp,livecodebench")
sets = {"long": long, "math+code": [target.encode_prompt(p) for p in code_math]}


def run(d, ids, pol):
    first = []
    r = generate(target, d, ids, SamplingParams(), 96, policy=pol, sps_table=sps,
                 on_text=lambda _: first or first.append(time.perf_counter()))
    return r["num_new_tokens"] - 1, time.perf_counter() - first[0], r["token_ids"]


for name, prompts in sets.items():
    tot = {k: [0, 0.0] for k in ("plain", "scan", "index")}
    same = 0
    for rep in range(2):
        for i, x in enumerate(prompts):
            n, t, plain = run(None, x, "fixed")
            tot["plain"][0] += n; tot["plain"][1] += t
            outs = {}
            for k in (("scan", "index") if (i + rep) % 2 == 0 else ("index", "scan")):
                NgramDrafter.lookup_request = indexed if k == "index" else scan
                n, t, outs[k] = run(drafter, x, "dspark")
                tot[k][0] += n; tot[k][1] += t
            same += outs["scan"] == outs["index"] == plain
        base = tot["plain"][0] / tot["plain"][1]
        print(f"{name}, after run {rep + 1} ({len(prompts)} prompts, tokens {[len(p) for p in prompts][:4]}...): "
              f"plain {base:.1f} tok/s; the default with the scan {tot['scan'][0] / tot['scan'][1] / base:.3f}x, "
              f"with the index {tot['index'][0] / tot['index'][1] / base:.3f}x; "
              f"identical {same}/{(rep + 1) * len(prompts)}", flush=True)
