"""Session 55: forwards of k rows after a 300-token context, sizes in the order given (each on a new cache),
with the build with timers (prof) or without: does a forward slow down after smaller ones?
    python docs/results/session55/order.py 64,1,8,64 [prof]
"""
import sys, time, statistics
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
P = len(sys.argv) > 2 and sys.argv[2] == "prof"
if P: runtime.profiling_lib()
m = load_target("smollm2-135m", tokenizer=False).model
ctx = list(range(100, 400))
def run(k, steps=10):
    cache = m.new_cache(1, len(ctx) + k); ts = []
    with torch.no_grad():
        m(FlatBatch.build([(0, 0, ctx)], "cpu"), cache)
        for i in range(steps + 3):
            with runtime.step_threads(m):
                P and runtime.lib().profile(); t0 = time.perf_counter(); m(FlatBatch.build([(0, len(ctx), [7] * k)], "cpu"), cache); dt = time.perf_counter() - t0; P and runtime.lib().profile()
            cache.truncate(0, len(ctx))
            if i >= 3: ts.append(dt)
    return statistics.median(ts) * 1e3
for k in map(int, sys.argv[1].split(",")): print(k, f"{run(k):.2f} ms")
