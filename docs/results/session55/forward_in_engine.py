"""Session 55: the target forwards inside the engine's DSpark rounds, by row count, against the same
forwards run alone in the same process (does drafting slow the verification forward?).
"""
import sys, time, statistics
sys.path.insert(0, "/work/main/benchmarks")
import dspark, torch
from collections import defaultdict
from decode_speed import sample_prompts
from dspark.batch import FlatBatch
from dspark.models import runtime
import dspark.models.decoder as D
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
target = load_target("smollm2-135m")
dr = load_drafter("dspark", target)
sps = sps_for_policies("dspark", target)
REC = []
f = D.TargetModel.__call__
def w(self, batch, cache, **k):
    t0 = time.perf_counter(); r = f(self, batch, cache, **k); REC.append((len(batch.tokens), time.perf_counter() - t0, bool(k.get("taps")))); return r
D.TargetModel.__call__ = w
prompts = sample_prompts(8, "gsm8k,humaneval,math500,mbpp,livecodebench")
for p in prompts:
    ids = target.encode_prompt(p)
    generate(target, dr, ids, SamplingParams(), 128, policy="dspark", sps_table=sps)
    generate(target, None, ids, SamplingParams(), 128)
by = defaultdict(list)
for n, dt, tp in REC:
    if n <= 8: by[(n, tp)].append(dt)
for k in sorted(by): print("engine", k, len(by[k]), f"{statistics.median(by[k])*1e3:.2f}")
# isolated, same process, context 350
m = target.model
ctx = list(range(100, 450)); cache = m.new_cache(1, 470)
iso = defaultdict(list)
with torch.inference_mode():
    m(FlatBatch.build([(0, 0, ctx)], "cpu"), cache)
    for rep in range(15):
        for k in range(1, 9):
            with runtime.step_threads(m):
                t0 = time.perf_counter(); m(FlatBatch.build([(0, len(ctx), [7] * k)], "cpu"), cache, taps=(1, 8, 14, 20, 27)); iso[k].append(time.perf_counter() - t0)
            cache.truncate(0, len(ctx))
print("iso", {k: round(statistics.median(v)*1e3, 2) for k, v in iso.items()})
