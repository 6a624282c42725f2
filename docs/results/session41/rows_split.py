"""Session 41: a forward of 1-8 rows after a context (argv[1], default 300) split into rt_layer's parts and
the head, with the timed build of make_timed.py (run it first); ms per forward, median of 40."""
import ctypes, subprocess, statistics, sys, time
import dspark, torch
from dspark.batch import FlatBatch
from dspark.models import packed, runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
subprocess.run(["gcc", *packed.CFLAGS["qkernels"], "/tmp/s41/qk_timed.c", "-o", "/tmp/s41/qk_timed.so", "-lm"], check=True)
dll = ctypes.CDLL("/tmp/s41/qk_timed.so")
runtime._LIB = runtime._Lib(dll)
dll.rt_timers.argtypes = [ctypes.c_void_p]
buf = (ctypes.c_double * 8)()
model = load_target("smollm2-135m", tokenizer=False).model
ctx = int(sys.argv[1]) if len(sys.argv) > 1 else 300
names = ["qkv", "attention", "o+gate_up", "activation", "down", "head"]
with torch.inference_mode():
    print(f"context {ctx}; ms per forward (median of 40): " + " | ".join(names) + " | layers+head | whole forward")
    for rows in (1, 2, 3, 4, 5, 6, 8):
        cache = model.new_cache(1, ctx + 64)
        model(FlatBatch.build([(0, 0, [100 + i % 500 for i in range(ctx)])], "cpu"), cache)
        dll.rt_timers(buf)
        parts, whole = [], []
        for rep in range(50):
            b = FlatBatch.build([(0, ctx, [1000 + rep + j for j in range(rows)])], "cpu")
            t0 = time.perf_counter()
            model(b, cache)
            whole.append(time.perf_counter() - t0)
            dll.rt_timers(buf); parts.append(list(buf)[:6])
            cache.truncate(0, ctx)
        med = [statistics.median(p[i] for p in parts[10:]) * 1e3 for i in range(6)]
        print(f"rows {rows}: " + " | ".join(f"{m:.3f}" for m in med) + f" | {sum(med):.3f} | {1e3*statistics.median(whole[10:]):.3f}")
