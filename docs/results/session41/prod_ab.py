"""Builds of qkernels.c (argv: .c files) compared on the 30 layers' products, interleaved rep by rep: us per layer."""
import ctypes, subprocess, sys, time, statistics
import dspark, torch
from dspark.models import packed, runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
srcs = sys.argv[1:]
libs = []
for i, src in enumerate(srcs):
    so = f"/tmp/s41/prod_ab_{i}.so"
    subprocess.run(["gcc", *packed.CFLAGS["qkernels"], src, "-o", so, "-lm"], check=True, capture_output=True)
    libs.append(runtime._Lib(ctypes.CDLL(so)))
m = load_target("smollm2-135m", tokenizer=False).model
rt = m.runtime
names = ["qkv", "o", "gate_up", "down"]
for rows in (1, 2, 3, 4, 6, 8):
    xs = {n: torch.randn(rows, getattr(rt.layers[0], n).in_features) for n in names}
    ts = {k: [] for k in range(len(libs))}
    for rep in range(10):
        for k, lib in enumerate(libs):
            runtime._LIB = lib
            lib.sync_threads()
            t0 = time.perf_counter()
            for n in names:
                for L in rt.layers:
                    runtime.qmatmul(xs[n], getattr(L, n))
            ts[k].append((time.perf_counter() - t0) / 30 * 1e6)
    print(f"rows {rows}: " + "  ".join(f"{srcs[k].split('/')[-1]} {statistics.median(v[2:]):.1f}" for k, v in ts.items()), flush=True)
