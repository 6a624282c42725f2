import sys, time, json, statistics
from collections import defaultdict
import dspark, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark import engine as E
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
T = defaultdict(float); N = defaultdict(int)
def wrap(obj, name, label):
    f = getattr(obj, name)
    def w(*a, **k):
        t0 = time.perf_counter()
        try: return f(*a, **k)
        finally: T[label] += time.perf_counter() - t0; N[label] += 1
    setattr(obj, name, w)
target = load_target("smollm2-135m")
specs = sys.argv[1].split(",") if len(sys.argv) > 1 else ["none", "dspark@dspark", "default@dspark"]
variants = {}
for spec in specs:
    path, _, pol = spec.partition("@"); pol = pol or "fixed"
    variants[spec] = (load_drafter(path, target), pol, sps_for_policies(pol, target))
wrap(E.Engine, "_decode_round", "round")
wrap(E.Engine, "_prefill", "prefill")
wrap(E, "verify", "verify")
import dspark.models.decoder as D
wrap(D.TargetModel, "__call__", "forward")
res = {}
prompts = sample_prompts(int(sys.argv[2]) if len(sys.argv) > 2 else 10, "gsm8k,humaneval,math500,mbpp,livecodebench")
for spec, (dr, pol, sps) in variants.items():
    wrap(dr, "propose", "propose"); wrap(dr, "observe", "observe")
for i, p in enumerate(prompts):
    ids = target.encode_prompt(p)
    for spec, (dr, pol, sps) in variants.items():
        T.clear(); N.clear()
        t0 = time.perf_counter()
        r = generate(target, dr, ids, SamplingParams(), 128, policy=pol, sps_table=sps)
        tot = time.perf_counter() - t0
        d = res.setdefault(spec, defaultdict(float))
        d["total"] += tot; d["tokens"] += r["num_new_tokens"]; d["rounds"] += N["round"]; d["prompt_tokens"] += len(ids)
        for k in T: d[k] += T[k]
        d["fwd_in_prefill"] += 0
for spec, d in res.items():
    R = d["rounds"]
    other = d["round"] - d["propose"] - d["verify"] - (d["forward"] - d["prefill"] * 0)  # forward includes prefill forward
    print(f"{spec}: {d['tokens']/d['total']:.1f} tok/s, tokens/round {d['tokens']/R:.2f}, prefill {d['prefill']*1e3/len(prompts):.0f} ms/prompt ({d['prefill']/d['total']*100:.0f}%), "
          f"per round ms: round {d['round']/R*1e3:.2f} propose {d['propose']/R*1e3:.2f} observe {d['observe']/R*1e3:.2f} forward(all) {d['forward']/R*1e3:.2f} verify {d['verify']/R*1e3:.2f}")
