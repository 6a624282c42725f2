import time, torch, statistics
from dspark.sampling import SamplingParams, probabilities
from dspark.verify import verify_one
from dspark.drafters.base import Proposal
torch.set_num_threads(int(__import__("os").environ.get("TH", "2")))
L = torch.load("/tmp/s44/real_logits.pt")
P = SamplingParams(0.7, 0.9)
g = torch.Generator().manual_seed(0)
def bench(f, n=200):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6
for n in (1, 2, 3, 6):
    logits = L[10:10 + n + 1].contiguous()
    q = probabilities(L[50:50 + n] + torch.randn(n, L.shape[1], generator=g) * 0.5, P)
    drafts = [int(torch.multinomial(q[k], 1, generator=g)) for k in range(n)]
    prop = Proposal(drafts, q)
    print(n, "drafts: verify_one %.0f us; probabilities alone %.0f us" % (bench(lambda: verify_one(logits, prop, P, g)), bench(lambda: probabilities(logits, P))))
