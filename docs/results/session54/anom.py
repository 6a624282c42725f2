import sys, statistics, gc
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
rt = runtime.profiling_lib()
model = load_target("smollm2-135m", tokenizer=False, precision="fast").model
context = list(range(100, 400))
mode = sys.argv[1]
def run(k, cache, reps=15, tok=7):
    out = []
    for i in range(reps):
        rt.profile()
        with runtime.step_threads(model):
            model(FlatBatch.build([(0, len(context), [tok] * k)], "cpu"), cache)
        cache.truncate(0, len(context))
        p = rt.profile(); out.append(sum(p.values()))
    return statistics.median(out) * 1e3
with torch.no_grad():
    if mode == "newcache":
        c8 = model.new_cache(1, 308); model(FlatBatch.build([(0, 0, context)], "cpu"), c8); a = run(8, c8)
        c64 = model.new_cache(1, 364); model(FlatBatch.build([(0, 0, context)], "cpu"), c64); b = run(64, c64)
    elif mode == "samecache":
        c = model.new_cache(1, 364); model(FlatBatch.build([(0, 0, context)], "cpu"), c); a = run(8, c); b = run(64, c)
    elif mode == "only64":
        c64 = model.new_cache(1, 364); model(FlatBatch.build([(0, 0, context)], "cpu"), c64); a = 0; b = run(64, c64)
    elif mode == "newcache400":
        c8 = model.new_cache(1, 400); model(FlatBatch.build([(0, 0, context)], "cpu"), c8); a = run(8, c8)
        c64 = model.new_cache(1, 400); model(FlatBatch.build([(0, 0, context)], "cpu"), c64); b = run(64, c64)
    print(mode, f"8 rows {a:.2f} ms, 64 rows {b:.2f} ms (C parts)")
