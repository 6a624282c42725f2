"""Session 57: what the drafter's training forward and backward cost with A anchors a sequence (48,
as every config, against ~420: every answer position), 4 random sequences of 530 tokens, bf16
autocast, DSpark-1p's carry; `attend` timed inside the forward.

    python docs/results/session57/anchor_cost.py 48      # then 420
"""
import time, torch, sys
from dspark.models.loader import load_target
from dspark.drafters import load as load_drafter
import dspark.models.layers as L
torch.set_num_threads(2)
t = load_target("smollm2-135m")
d = load_drafter("data/carry/dspark1p-smollm2-135m-writing", t)
d.train()
for p in d.parameters(): p.requires_grad_(p.dtype.is_floating_point)
A = int(sys.argv[1]); B = 4; T = 530
g = torch.Generator().manual_seed(0)
items = []
for i in range(B):
    toks = torch.randint(0, 8000, (T,), generator=g)
    taps = torch.randn(T, 5 * 576, generator=g)
    anc = torch.sort(torch.randperm(T - 10, generator=g)[:A] + 5).values
    items.append((toks, taps, anc, None))
orig = L.attend
tat = [0.0]
def timed(*a, **k):
    t0 = time.perf_counter(); r = orig(*a, **k); tat[0] += time.perf_counter() - t0; return r
for rep in range(3):
    tat[0] = 0
    L.attend = timed
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outs = d.forward_train_many(items)
        loss = sum(o.logits.float().logsumexp(-1).mean() for o in outs)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    print(f"A={A} fwd {t1-t0:.2f}s (attend fwd {tat[0]:.2f}s) bwd {t2-t1:.2f}s")
