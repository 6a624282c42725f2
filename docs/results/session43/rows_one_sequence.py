"""Session 43: forwards of 1-8 rows of one sequence after 256 tokens, 15 rounds: median / min / max ms."""
import time, statistics, torch
from dspark.models.loader import load_target
from dspark.batch import FlatBatch
from dspark.models.runtime import step_threads
torch.set_num_threads(2)
t = load_target("smollm2-135m"); m = t.model
cache = m.new_cache(1, 400); s = cache.allocate()
ids = torch.randint(0, 49152, (256,)).tolist()
m(FlatBatch.build([(s, 0, ids)], "cpu", logit_rows=[255]), cache)
res = {b: [] for b in range(1, 9)}
with torch.inference_mode():
  for rep in range(15):
    for b in range(1, 9):
        batch = FlatBatch.build([(s, 256, torch.randint(0, 49152, (b,)).tolist())], "cpu")
        with step_threads(m):
            t0 = time.perf_counter(); m(batch, cache); dt = time.perf_counter() - t0
        cache.truncate(s, 256)
        res[b].append(dt * 1e3)
for b, v in res.items(): print(b, round(statistics.median(v), 2), round(min(v), 2), round(max(v), 2))
