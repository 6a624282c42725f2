"""Session 39: rt_attention alone, two builds of qkernels.c in one process, alternated (us per layer).

Build them first, e.g. the start and the end of a change:
    gcc -O3 -ffp-contract=off -fno-math-errno -shared -fPIC -pthread -o /tmp/s39/old.so OLD/qkernels.c
    gcc -O3 -ffp-contract=off -fno-math-errno -shared -fPIC -pthread -o /tmp/s39/new.so src/dspark/models/qkernels.c
    python docs/results/session39/attn_ab.py
Caches are allocated head-major as the new build reads them; for timing only, the values are random.
"""
import time, sys, ctypes
import dspark, torch
from dspark.models import runtime
libs = {k: runtime._Lib(ctypes.CDLL(f"/tmp/s39/{k}.so")) for k in ("old", "new")}
hq, hk, d = 9, 3, 64
def bench(rt, ctx, n, layers=30, reps=10):
    rt.threads = rt._set_threads(2)
    qkv = torch.randn(n, (hq + 2 * hk) * d)
    cos, sin = torch.ones(n, d), torch.zeros(n, d)
    slot = torch.zeros(n, dtype=torch.long); pos = torch.arange(ctx, ctx + n)
    caches = [(torch.randn(1, ctx + n + 8, hk, d).half(), torch.randn(1, ctx + n + 8, hk, d).half()) for _ in range(layers)]
    out = torch.empty(n, hq * d)
    def run():
        for kc, vc in caches:
            rt.attention(qkv.data_ptr(), n, hq, hk, d, None, None, 1e-6, cos.data_ptr(), sin.data_ptr(), kc.data_ptr(), vc.data_ptr(), ctx + n + 8,
                         slot.data_ptr(), pos.data_ptr(), None, 0, d ** -0.5, 0.0, out.data_ptr(), rt.path)
    run()
    t0 = time.perf_counter()
    for _ in range(reps): run()
    return (time.perf_counter() - t0) / reps / layers * 1e6
for ctx, n in [(300, 1), (1000, 1), (2000, 1), (300, 8), (1000, 4), (1000, 8), (2000, 8)]:
    r = {k: [] for k in libs}
    for rep in range(3):
        for k, rt in libs.items():
            r[k].append(bench(rt, ctx, n))
    print(f"ctx {ctx} rows {n}: old {min(r['old']):.1f} us/layer, new {min(r['new']):.1f} ({min(r['new'])/min(r['old']):.2f})")
