"""Python time of the fast forward around its C calls: decode steps of 1 and 4 rows after a 200-token context."""
import sys, time, statistics
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
t = load_target("smollm2-135m", tokenizer=False)
model = t.model
rt = runtime.lib()
IN = [0.0]
def timed(fn):
    def w(*a):
        t0 = time.perf_counter(); r = fn(*a); IN[0] += time.perf_counter() - t0; return r
    return w
rt.forward = timed(rt.forward); rt.qmatmul = timed(rt.qmatmul)
taps = (1, 8, 14, 20, 27) if "taps" in sys.argv else ()
with torch.inference_mode():
    res = {}
    for rows in (1, 4):
        cache = model.new_cache(1, 1024)
        b = FlatBatch.build([(0, 0, list(range(100, 300)))], "cpu")
        model(b, cache)
        outs, ins = [], []
        pos = 200
        for step in range(150):
            b = FlatBatch.build([(0, pos, [1000 + step] * rows)], "cpu")
            IN[0] = 0.0
            t0 = time.perf_counter()
            out = model(b, cache, taps=taps)
            dt = time.perf_counter() - t0
            if out.taps: torch.cat(out.taps, -1)
            cache.truncate(0, pos + 1); pos += 1
            outs.append(dt); ins.append(IN[0])
        over = [o - i for o, i in zip(outs, ins)][20:]
        print(f"rows {rows} taps {bool(taps)}: forward {1e3*statistics.median(outs):.3f} ms, Python around C {1e3*statistics.median(over):.3f} ms (mean {1e3*statistics.mean(over):.3f})")
