"""Builds of qkernels.c (argv: .c files) compared on whole forwards of k rows after a 300-token context,
interleaved rep by rep in one process: median ms, and each build's ratio to the first."""
import ctypes, subprocess, sys, time, statistics
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import packed, runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
srcs = sys.argv[1:]
libs = []
for i, src in enumerate(srcs):
    so = f"/tmp/s41/fk_{i}.so"
    subprocess.run(["gcc", *packed.CFLAGS["qkernels"], src, "-o", so, "-lm"], check=True, capture_output=True)
    libs.append(runtime._Lib(ctypes.CDLL(so)))
model = load_target("smollm2-135m", tokenizer=False).model
ctx = 300
with torch.inference_mode():
    cache = model.new_cache(1, ctx + 64)
    runtime._LIB = libs[0]
    model(FlatBatch.build([(0, 0, [100 + i % 500 for i in range(ctx)])], "cpu"), cache)
    for rows in (1, 2, 3, 4, 5, 6, 8):
        ts = {k: [] for k in range(len(libs))}
        outs = {}
        for rep in range(24):
            for k in ([0, 1, 2, 3][:len(libs)] if rep % 2 == 0 else list(reversed(range(len(libs))))):
                runtime._LIB = libs[k]
                b = FlatBatch.build([(0, ctx, [1000 + j for j in range(rows)])], "cpu")
                t0 = time.perf_counter()
                out = model(b, cache)
                ts[k].append(time.perf_counter() - t0)
                outs[k] = out.logits
                cache.truncate(0, ctx)
        med = {k: statistics.median(v[4:]) * 1e3 for k, v in ts.items()}
        same = all(torch.equal(outs[0], outs[k]) for k in outs)
        print(f"rows {rows}: " + "  ".join(f"{srcs[k].split('/')[-1]} {med[k]:.3f} ms ({med[k] / med[0]:.3f})" for k in med)
              + f"  same logits: {same}", flush=True)
