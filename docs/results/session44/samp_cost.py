import time, torch, statistics
from dspark.sampling import SamplingParams, probabilities, sample_rows, sample, _invert_cdf
torch.set_num_threads(2)
g = torch.Generator().manual_seed(0)
V = 49152
def bench(f, n=200):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6
for T, p, k in [(0.7, 0.9, 0), (1.0, 1.0, 0), (0.7, 0.9, 20), (1.0, 0.95, 0)]:
    P = SamplingParams(T, p, k)
    for R in (1, 4):
        logits = torch.randn(R, V, generator=g) * 3
        gens = [torch.Generator().manual_seed(i) for i in range(R)]
        pr = probabilities(logits, P)
        u = torch.rand(R, 1, generator=g)
        print(f"T {T} top_p {p} top_k {k} rows {R}: probabilities {bench(lambda: probabilities(logits, P)):.0f} us, "
              f"invert_cdf {bench(lambda: _invert_cdf(pr, u)):.0f} us, sample_rows {bench(lambda: sample_rows(logits, P, gens)):.0f} us; softmax {bench(lambda: torch.softmax(logits / T, -1)):.0f}")
