"""The 30 layers' products one after another (weights from DRAM), per row count: us per layer."""
import time, statistics
import dspark, torch
from dspark.models import runtime
from dspark.models.loader import load_target
torch.set_num_threads(2)
m = load_target("smollm2-135m", tokenizer=False).model
rt = m.runtime
runtime.lib().sync_threads()
names = ["qkv", "o", "gate_up", "down"]
for rows in (1, 2, 3, 4, 5, 6, 8):
    res = {}
    for name in names:
        pws = [getattr(L, name) for L in rt.layers]
        x = torch.randn(rows, pws[0].in_features)
        ts = []
        for rep in range(12):
            t0 = time.perf_counter()
            for pw in pws:
                runtime.qmatmul(x, pw)
            ts.append((time.perf_counter() - t0) / len(pws))
        res[name] = statistics.median(ts[2:]) * 1e6
    print(f"rows {rows}: " + "  ".join(f"{k} {v:.1f}" for k, v in res.items()) + f"  sum {sum(res.values()):.1f} us/layer")
