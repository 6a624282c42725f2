"""Session 55: a batch-1 DSpark round split by wrapped calls (round, prefill, forward, propose, observe,
verify, commit), ms per round.  python docs/results/session55/round_split.py [drafter]
"""
import sys, time
sys.path.insert(0, "/work/main/benchmarks")
import dspark, torch
from collections import defaultdict
from decode_speed import sample_prompts
import dspark.models.decoder as D
from dspark import engine as E
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
spec = sys.argv[1] if len(sys.argv) > 1 else "dspark"
dr = load_drafter(spec, target)
sps = sps_for_policies("dspark", target)
T = defaultdict(float); N = defaultdict(int)
def wrap(obj, name, label):
    f = getattr(obj, name)
    def w(*a, **k):
        t0 = time.perf_counter()
        try: return f(*a, **k)
        finally: T[label] += time.perf_counter() - t0; N[label] += 1
    setattr(obj, name, w)
wrap(E.Engine, "_decode_round", "round"); wrap(E.Engine, "_prefill", "prefill")
wrap(D.TargetModel, "__call__", "forward"); wrap(type(dr), "propose", "propose"); wrap(type(dr), "observe", "observe")
wrap(E, "verify", "verify"); wrap(E.Engine, "_commit_tokens", "commit")
prompts = sample_prompts(10, "gsm8k,humaneval,math500,mbpp,livecodebench")
tot = defaultdict(float); toks = 0; wall = 0
for p in prompts:
    ids = target.encode_prompt(p)
    T.clear(); N.clear()
    t0 = time.perf_counter()
    r = generate(target, dr, ids, SamplingParams(), 128, policy="dspark", sps_table=sps)
    wall += time.perf_counter() - t0; toks += r["num_new_tokens"]
    for k in T: tot[k] += T[k]
    tot["nround"] += N["round"]
R = tot["nround"]
print(f"tok/s {toks/wall:.1f} tokens/round {toks/R:.2f} wall/round {wall/R*1e3:.2f} ms")
for k in ("round", "prefill", "forward", "propose", "observe", "verify", "commit"):
    print(f"  {k}: {tot[k]/R*1e3:.3f} ms/round")   # forward includes the prefill's forwards
print("  outside round+prefill:", (wall - tot['round'] - tot['prefill'])/R*1e3)
