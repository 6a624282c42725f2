"""A/B of qkernels builds on the real target's forward, interleaved, logits checked bit-equal: python ab_builds.py A.so[,B.so] [rows] [repeats]"""
import sys, ctypes, statistics, time
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
model = load_target("smollm2-135m", tokenizer=False, precision="fast").model
base = runtime.lib()
libs = {"base": base}
for p in sys.argv[1].split(","):
    v = runtime._Lib(ctypes.CDLL(p)); libs[p.split("/")[-1]] = v
rows = [int(r) for r in (sys.argv[2].split(",") if len(sys.argv) > 2 else ["1", "2", "4", "8", "64"])]
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 30
context = list(range(100, 400))
cache = model.new_cache(1, len(context) + max(rows) + 1)
with torch.no_grad():
    model(FlatBatch.build([(0, 0, context)], "cpu"), cache)
    times = {(n, k): [] for n in libs for k in rows}
    ref = {}
    for rep in range(reps + 3):
        for k in rows:
            for name, L in libs.items():
                runtime._LIB = L
                toks = [(7 * i + rep) % 5000 + 10 for i in range(k)]
                with runtime.step_threads(model):
                    t0 = time.perf_counter()
                    out = model(FlatBatch.build([(0, len(context), toks)], "cpu"), cache)
                    dt = time.perf_counter() - t0
                cache.truncate(0, len(context))
                lg = out.logits if hasattr(out, "logits") else out[0]
                if name == "base":
                    ref[k] = lg.clone()
                elif not torch.equal(ref[k], lg):
                    print("MISMATCH", name, k, (ref[k] - lg).abs().max().item())
                if rep >= 3:
                    times[(name, k)].append(dt)
runtime._LIB = base
print("rows | " + " | ".join(libs))
for k in rows:
    b = statistics.median(times[("base", k)])
    cells = [f"{b*1e3:.2f} ms"]
    for n in list(libs)[1:]:
        ratios = [x / y for x, y in zip(times[("base", k)], times[(n, k)])]
        cells.append(f"{statistics.median(times[(n, k)])*1e3:.2f} ms ({statistics.median(ratios):.3f}x, q25-75 {statistics.quantiles(ratios, n=4)[0]:.2f}-{statistics.quantiles(ratios, n=4)[2]:.2f})")
    print(f"{k} | " + " | ".join(cells))
