"""Session 44: what sampling a batched regeneration step costs (deepspec regenerate's recipe: T 0.7,
top-k 20, top-p 0.8), 32 rows of real SmolLM2 logits, C against torch (sampling._runtime off)."""
import statistics, time, torch
from dspark import sampling
from dspark.sampling import SamplingParams, sample_rows
torch.set_num_threads(2)
L = torch.load("/tmp/s44/real_logits.pt")[:32].contiguous()
P = SamplingParams(0.7, 0.8, 20)
gens = [torch.Generator().manual_seed(i) for i in range(32)]
real = sampling._runtime
for name, impl in [("C", real), ("torch", lambda: None), ("C", real), ("torch", lambda: None)]:
    sampling._runtime = impl
    ts = []
    for _ in range(30):
        t0 = time.perf_counter(); sample_rows(L, P, gens); ts.append(time.perf_counter() - t0)
    print(f"{name:6s} 32 rows: {statistics.median(ts) * 1e3:.2f} ms a step")
sampling._runtime = real
