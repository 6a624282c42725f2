"""Session 42: builds of qkernels.c (argv[2:]: .c files) on whole forwards of k rows after a context
(argv[1]), each build with its own cache (the key layouts differ), interleaved rep by rep in one
process: median ms and each build's ratio to the first."""
import ctypes, subprocess, sys, time, statistics
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import packed, runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
ctx, srcs = int(sys.argv[1]), sys.argv[2:]
libs = []
for i, src in enumerate(srcs):
    so = f"/tmp/s42/ab_{i}.so"
    subprocess.run(["gcc", *packed.CFLAGS["qkernels"], src, "-o", so, "-lm"], check=True, capture_output=True)
    libs.append(runtime._Lib(ctypes.CDLL(so)))
model = load_target("smollm2-135m", tokenizer=False).model
max_len = (ctx + 64 + 15) // 16 * 16
with torch.inference_mode():
    caches = []
    for lib in libs:
        runtime._LIB = lib
        c = model.new_cache(1, max_len)
        model(FlatBatch.build([(0, 0, [100 + i % 500 for i in range(ctx)])], "cpu"), c)
        caches.append(c)
    for rows in (1, 2, 3, 4, 6, 8):
        ts = {k: [] for k in range(len(libs))}
        outs = {}
        for rep in range(30):
            for k in (list(range(len(libs))) if rep % 2 == 0 else list(reversed(range(len(libs))))):
                runtime._LIB = libs[k]
                b = FlatBatch.build([(0, ctx, [1000 + j for j in range(rows)])], "cpu")
                t0 = time.perf_counter()
                out = model(b, caches[k])
                ts[k].append(time.perf_counter() - t0)
                outs[k] = out.logits
                caches[k].truncate(0, ctx)
        med = {k: statistics.median(v[4:]) * 1e3 for k, v in ts.items()}
        agree = all(torch.equal(outs[0].argmax(-1), outs[k].argmax(-1)) for k in outs)
        diff = [round(float((outs[0] - outs[k]).abs().max()), 4) for k in outs]
        print(f"ctx {ctx} rows {rows}: " + "  ".join(f"{srcs[k].split('/')[-1]} {med[k]:.3f} ({med[k] / med[0]:.3f})" for k in med)
              + f"  argmax agree {agree}, max dlogit {diff}", flush=True)
