import time, statistics, torch, os
torch.set_num_threads(2)
from dspark.models.loader import load_target
from dspark.batch import FlatBatch
from dspark.models.runtime import step_threads
from dspark.profile import profile_sps
t = load_target("smollm2-135m", tokenizer=False); m = t.model
def loop():
    cache = m.new_cache(1, 400); s = cache.allocate()
    g = torch.Generator().manual_seed(0)
    m(FlatBatch.build([(s, 0, torch.randint(0, 49152, (256,), generator=g).tolist())], "cpu", logit_rows=[255]), cache)
    r = {1: [], 2: [], 3: []}
    with torch.inference_mode():
        for rep in range(20):
            for size in r:
                b = FlatBatch.build([(s, 256, torch.randint(0, 49152, (size,), generator=g).tolist())], "cpu")
                with step_threads(m):
                    t0 = time.perf_counter(); m(b, cache); dt = time.perf_counter() - t0
                cache.truncate(s, 256); r[size].append(dt * 1e3)
    return " ".join("%d:%.2f" % (k, statistics.median(v[4:])) for k, v in r.items())
first = os.environ.get("FIRST", "loop")
out = []
for step in ([first, "prof" if first == "loop" else "loop"] * 2):
    if step == "loop": out.append("loop " + loop())
    else:
        tab = profile_sps(m, (1, 2, 3, 4), one_sequence_tokens=(1, 2, 3))
        out.append("prof " + " ".join("%.2f" % x for x in tab.meta["one_sequence_ms_per_step"]))
print(" | ".join(out))
