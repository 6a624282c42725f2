"""Session 42: builds of qkernels.c (argv[1:]) on prefills of 128 / 512 / 1024 tokens, interleaved, each build
with its own cache: median ms and each build's ratio to the first."""
import ctypes, subprocess, sys, time, statistics
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import packed, runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
srcs = sys.argv[1:]
libs = []
for i, src in enumerate(srcs):
    so = f"/tmp/s42/pf_{i}.so"
    subprocess.run(["gcc", *packed.CFLAGS["qkernels"], src, "-o", so, "-lm"], check=True, capture_output=True)
    libs.append(runtime._Lib(ctypes.CDLL(so)))
model = load_target("smollm2-135m", tokenizer=False).model
with torch.inference_mode():
    caches = [model.new_cache(1, 1040) for _ in libs]
    for n in (128, 512, 1024):
        ids = [100 + (i * 7) % 3000 for i in range(n)]
        ts = {k: [] for k in range(len(libs))}
        for rep in range(8 if n < 1024 else 6):
            for k in (list(range(len(libs))) if rep % 2 == 0 else list(reversed(range(len(libs))))):
                runtime._LIB = libs[k]
                caches[k].truncate(0, 0)
                t0 = time.perf_counter()
                model(FlatBatch.build([(0, 0, ids)], "cpu", logit_rows=[n - 1]), caches[k])   # the engine wants the last row only
                ts[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v[1:]) * 1e3 for k, v in ts.items()}
        print(f"prefill {n}: " + "  ".join(f"{srcs[k].split('/')[-1]} {med[k]:.1f} ms, {n / med[k] * 1e3:.0f} tok/s ({med[k] / med[0]:.3f})" for k in med), flush=True)
