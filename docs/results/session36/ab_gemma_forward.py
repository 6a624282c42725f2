"""A/B on Gemma 3 270M: one forward after a 300-token context, the session-36 start (step form, fp32 products by
   F.linear) against now (one call per layer, rt_f32matmul), alternated, median of 45.  python docs/results/session36/ab_gemma_forward.py"""
import time, statistics, sys
import dspark, torch, torch.nn.functional as F
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
model = load_target("gemma3-270m", tokenizer=False).model
layers = model.runtime.layers
ptrs = [L.args_ptr for L in layers]
real = runtime.f32matmul
def old_linear(x, weight, bias=None, residual=None):
    y = F.linear(x, weight, bias)
    return y if residual is None else residual + y
cache = model.new_cache(1, 400)
ctx = 300
with torch.no_grad():
    model(FlatBatch.build([(0, 0, list(range(1000, 1000 + ctx)))], "cpu"), cache)
def mode(new):
    runtime.f32matmul = real if new else old_linear
    for L, p in zip(layers, ptrs): L.args_ptr = p if new else None
for k in (1, 8):
    res = {"old": [], "new": []}
    for it in range(50):
        for m in ("old", "new"):
            mode(m == "new")
            with torch.no_grad(), runtime.step_threads(model):
                t0 = time.perf_counter(); model(FlatBatch.build([(0, ctx, [7] * k)], "cpu"), cache); dt = time.perf_counter() - t0
            cache.truncate(0, ctx)
            if it >= 5: res[m].append(dt)
    r = sorted(a / b for a, b in zip(res["old"], res["new"]))
    print(f"{k} rows: session start (steps, F.linear) {statistics.median(res['old'])*1e3:.2f} ms, now {statistics.median(res['new'])*1e3:.2f} ms, "
          f"old/new {statistics.median(r):.3f} [{r[len(r)//4]:.3f}-{r[3*len(r)//4]:.3f}]")
