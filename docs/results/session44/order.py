"""Does a small forward's time depend on the forward before it? 2-row step after a k-row step."""
import time, statistics, torch, random
from dspark.models.loader import load_target
from dspark.batch import FlatBatch
from dspark.models.runtime import step_threads
torch.set_num_threads(2)
t = load_target("smollm2-135m", tokenizer=False); m = t.model
cache = m.new_cache(8, 400); slots = [cache.allocate() for _ in range(8)]
g = torch.Generator().manual_seed(0)
ids = torch.randint(0, 49152, (256,), generator=g).tolist()
for s in slots: m(FlatBatch.build([(s, 0, ids)], "cpu", logit_rows=[255]), cache)
def fwd(rows, nseq=1):
    per = [rows // nseq + (1 if i < rows % nseq else 0) for i in range(nseq)]
    parts = [(slots[i], 256, torch.randint(0, 49152, (c,), generator=g).tolist()) for i, c in enumerate(per)]
    b = FlatBatch.build(parts, "cpu")
    with step_threads(m):
        t0 = time.perf_counter(); m(b, cache); dt = time.perf_counter() - t0
    for s in slots: cache.truncate(s, 256)
    return dt * 1e3
res = {}
with torch.inference_mode():
    for rep in range(30):
        for prev in [(1, 1), (2, 1), (128, 8), (16, 8), (4, 4)]:
            fwd(*prev); fwd(*prev)
            for size in (1, 2, 3):
                # after prev, the measured size
                fwd(*prev)
                res.setdefault((prev, size), []).append(fwd(size))
for k, v in sorted(res.items()):
    print(k, "median %.2f min %.2f" % (statistics.median(v), min(v)))
