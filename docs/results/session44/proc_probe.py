"""One fresh process: medians of 1/2/3-row forwards of one sequence after 256 tokens (interleaved)."""
import time, statistics, torch, os
torch.set_num_threads(2)
from dspark.models.loader import load_target
from dspark.batch import FlatBatch
from dspark.models.runtime import step_threads
t = load_target("smollm2-135m", tokenizer=False); m = t.model
cache = m.new_cache(1, 400); s = cache.allocate()
g = torch.Generator().manual_seed(0)
m(FlatBatch.build([(s, 0, torch.randint(0, 49152, (256,), generator=g).tolist())], "cpu", logit_rows=[255]), cache)
r = {1: [], 2: [], 3: [], 4: []}
with torch.inference_mode():
    for rep in range(25):
        for size in r:
            b = FlatBatch.build([(s, 256, torch.randint(0, 49152, (size,), generator=g).tolist())], "cpu")
            with step_threads(m):
                t0 = time.perf_counter(); m(b, cache); dt = time.perf_counter() - t0
            cache.truncate(s, 256); r[size].append(dt * 1e3)
print(" ".join("%d:%.2f" % (k, statistics.median(v[5:])) for k, v in r.items()), os.environ.get("TAG", ""))
