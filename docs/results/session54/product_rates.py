"""Integer product rates, one build against another (python product_rates.py OTHER.so): a layer's down
and gate-up products over 1-16 rows, in L2 ("hot") and cycling through the 30 layers' weights ("cold"),
GMAC/s on both cores; each product through rt_qmatmul (its quantization and copies included)."""
import dspark, torch, time, statistics, ctypes, sys
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
model = load_target("smollm2-135m", tokenizer=False, precision="fast").model
libs = {"base": runtime.lib(), "variant": runtime._Lib(ctypes.CDLL(sys.argv[1]))}
downs = [L.down for L in model.runtime.layers]
gus = [L.gate_up for L in model.runtime.layers]
def run(rt, pws, M, reps):
    x = torch.randn(M, pws[0].in_features); y = torch.empty(M, pws[0].out_features)
    ts = []
    for r in range(reps):
        t0 = time.perf_counter()
        for pw in pws:
            rt.qmatmul(x.data_ptr(), M, pw.in_features, None, 0.0, *pw._weights, None, None, y.data_ptr(), rt.path)
        ts.append((time.perf_counter() - t0) / len(pws))
    return statistics.median(ts)
res = {}
pws_k = {"down hot": 576 * 1536, "down cold": 576 * 1536, "gate_up cold": 3072 * 576}
with runtime.step_threads(model):
    for L in libs.values(): L.sync_threads()
    for rep in range(5):
        for name, L in libs.items():
            runtime._LIB = L; L.sync_threads()
            for M in (1, 2, 3, 4, 5, 6, 7, 8, 16):
                for kind, pws in (("down hot", downs[:1] * 30), ("down cold", downs), ("gate_up cold", gus)):
                    res.setdefault((name, kind, M), []).append(run(L, pws, M, 20))
for kind in ("down hot", "down cold", "gate_up cold"):
    for M in (1, 2, 3, 4, 5, 6, 7, 8, 16):
        b, v = statistics.median(res[("base", kind, M)]), statistics.median(res[("variant", kind, M)])
        mac = M * pws_k[kind]; print(f"{kind} M={M}: base {b*1e6:.1f} us ({mac/b/1e9:.0f} GMAC/s), variant {v*1e6:.1f} us ({mac/v/1e9:.0f}; {b/v:.2f}x)")
