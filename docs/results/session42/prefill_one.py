"""Session 42: one build of qkernels.c (argv[1]) alone in its process (malloc's state is per process):
prefills of 128 / 512 / 1024 tokens after a warm-up, median ms and the minor page faults of one."""
import ctypes, resource, statistics, subprocess, sys, time, torch
from dspark.batch import FlatBatch
from dspark.models import packed, runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
so = f"/tmp/s42/one_{abs(hash(sys.argv[1]))}.so"
subprocess.run(["gcc", *packed.CFLAGS["qkernels"], sys.argv[1], "-o", so, "-lm"], check=True, capture_output=True)
runtime._LIB = runtime._Lib(ctypes.CDLL(so))
model = load_target("smollm2-135m", tokenizer=False).model
with torch.inference_mode():
    cache = model.new_cache(1, 1040)
    t_end = time.perf_counter() + 8
    while time.perf_counter() < t_end:                      # warm-up: the first seconds of a process run slower
        cache.truncate(0, 0)
        model(FlatBatch.build([(0, 0, list(range(100, 228)))], "cpu", logit_rows=[127]), cache)
    out = []
    for n in (128, 512, 1024):
        ids = [100 + (i * 7) % 3000 for i in range(n)]
        ts, faults = [], []
        for rep in range(5):
            cache.truncate(0, 0)
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            model(FlatBatch.build([(0, 0, ids)], "cpu", logit_rows=[n - 1]), cache)
            ts.append(time.perf_counter() - t0)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        out.append(f"{n}: {statistics.median(ts[1:]) * 1e3:.0f} ms ({n / statistics.median(ts[1:]):.0f} tok/s), "
                   f"{statistics.median(faults[1:]):.0f} faults")
    print(sys.argv[1].split("/")[-1] + " | " + " | ".join(out))
