import time, torch, statistics
from dspark.models import runtime as R
rt = R.lib()
L = torch.load("/tmp/s44/real_logits.pt").contiguous()
out = torch.empty_like(L)
n, V = L.shape
def bench(f, reps=5):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts) * 1e6 / n
for T, k, p in [(1.0, 0, 1.0), (0.7, 0, 0.9), (1.0, 0, 0.95), (0.7, 20, 0.8)]:
    print(T, k, p, "raw C %.1f us/row (all rows in one call)" % bench(lambda: rt.probabilities(L.data_ptr(), n, V, T, k, p, out.data_ptr(), rt.path)))
for rep in range(3):
    a = bench(lambda: rt.probabilities(L.data_ptr(), n, V, 0.7, 0, 1.0, out.data_ptr(), rt.path))
    b = bench(lambda: rt.probabilities(L.data_ptr(), n, V, 0.7, 0, 0.9, out.data_ptr(), rt.path))
    c = bench(lambda: rt.probabilities(L.data_ptr(), n, V, 1.0, 0, 0.95, out.data_ptr(), rt.path))
    print("T0.7 softmax only %.1f, +nucleus 0.9: %.1f, T1 0.95: %.1f" % (a, b, c))
