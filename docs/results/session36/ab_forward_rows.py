"""A/B: one target forward of 1-16 rows after a 300-token context, a layer as one C call against the step form,
   alternated, median of 55 (session 36).   python docs/results/session36/ab_forward_rows.py"""
import time, statistics, sys
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
model = load_target("smollm2-135m", tokenizer=False).model
rtf = model.runtime
ptrs = [L.args_ptr for L in rtf.layers]
print("C layers:", sum(p is not None for p in ptrs), "of", len(ptrs))
cache = model.new_cache(1, 400)
ctx = 300
with torch.no_grad():
    model(FlatBatch.build([(0, 0, list(range(100, 100 + ctx)))], "cpu"), cache)
def one(k):
    with torch.no_grad(), runtime.step_threads(model):
        t0 = time.perf_counter()
        out = model(FlatBatch.build([(0, ctx, [7] * k)], "cpu"), cache)
        dt = time.perf_counter() - t0
    cache.truncate(0, ctx)
    return dt, out.logits
for k in (1, 2, 4, 8, 16):
    res = {"python": [], "C": []}
    for it in range(60):
        for mode in ("python", "C"):
            for L, p in zip(rtf.layers, ptrs):
                L.args_ptr = p if mode == "C" else None
            dt, lg = one(k)
            if it >= 5: res[mode].append(dt)
            if it == 0: res.setdefault("logits_" + mode, lg)
    d = (res["logits_python"] - res["logits_C"]).abs().max().item()
    ratio = [a / b for a, b in zip(res["python"], res["C"])]
    print(f"{k} rows: python {statistics.median(res['python'])*1e3:.2f} ms, C {statistics.median(res['C'])*1e3:.2f} ms, "
          f"python/C median {statistics.median(ratio):.3f} [{sorted(ratio)[len(ratio)//4]:.3f}-{sorted(ratio)[3*len(ratio)//4]:.3f}], max logit diff {d:.2e}")
