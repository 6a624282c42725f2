import time, torch, statistics, sys
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.models.loader import load_target
from dspark.batch import FlatBatch
from dspark.sampling import SamplingParams, probabilities, torch_probabilities, sample_rows, _invert_cdf
torch.set_num_threads(2)
t = load_target("smollm2-135m"); m = t.model
rows = []
for p in sample_prompts(6, "gsm8k,humaneval,mt-bench"):
    ids = t.encode_prompt(p)[:120]
    cache = m.new_cache(1, 128); s = cache.allocate()
    out = m(FlatBatch.build([(s, 0, ids)], "cpu"), cache)
    rows.append(out.logits[-40:])
L = torch.cat(rows)
torch.save(L, "/tmp/s44/real_logits.pt")
print("rows", L.shape)
def bench(f, n=3):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts) * 1e6 / L.shape[0]
for P in [SamplingParams(0.7, 0.9), SamplingParams(1.0), SamplingParams(1.0, 0.95), SamplingParams(0.7, 0.8, 20), SamplingParams(1.5, 0.99)]:
    c = torch.cat([probabilities(L[i:i+1], P) for i in range(L.shape[0])])
    r = torch_probabilities(L, P)
    supp = bool(torch.equal(c > 0, r > 0))
    print(P, "C %.0f us/row, torch %.0f us/row; support equal %s, max |diff| %.2e, nucleus sizes median %d max %d" % (
        bench(lambda: [probabilities(L[i:i+1], P) for i in range(L.shape[0])]),
        bench(lambda: [torch_probabilities(L[i:i+1], P) for i in range(L.shape[0])]),
        supp, float((c - r).abs().max()), int((r > 0).sum(-1).median()), int((r > 0).sum(-1).max())))
