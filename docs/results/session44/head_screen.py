"""Session 44: would a 4-bit copy of the 8-bit head screen the vocabulary for an exact greedy argmax?
Bound per vocab row: sum over 32-blocks of (half the 4-bit step) * sum |x| in the block."""
import sys, torch
sys.path.insert(0, "/work/main/benchmarks")
from decode_speed import sample_prompts
from dspark.models.loader import load_target
from dspark.batch import FlatBatch
torch.set_num_threads(2)
t = load_target("smollm2-135m"); m = t.model
W = m.model.embed_tokens.weight.detach().float() if not hasattr(m, "lm_head") or m.lm_head is None else m.lm_head.weight.detach().float()
print("head", tuple(W.shape))
V, H = W.shape
Wb = W.view(V, H // 32, 32)
lo, hi = Wb.min(-1, keepdim=True).values, Wb.max(-1, keepdim=True).values
step = (hi - lo) / 15
q = torch.round((Wb - lo) / step.clamp_min(1e-12)).clamp(0, 15)
W4 = (lo + q * step).view(V, H)
err = (W4 - W).view(V, H // 32, 32).abs().amax(-1)            # actual max error per (v, block)
half = (step / 2).squeeze(-1)
print("max err / half step", float((err / half.clamp_min(1e-12)).max()))
prompts = sample_prompts(10, "gsm8k,humaneval,math500,mbpp,livecodebench")
counts = []
for p in prompts:
    ids = t.encode_prompt(p)[:200]
    cache = m.new_cache(1, 256); s = cache.allocate()
    out = m(FlatBatch.build([(s, 0, ids)], "cpu"), cache)
    x = out.hidden() if callable(out.hidden) else out.hidden
    x = x.float()
    exact = x @ W.T
    approx = x @ W4.T
    A = x.view(-1, H // 32, 32).abs().sum(-1)                  # [rows, blocks]
    bound = A @ err.T                                          # tight: actual per-block max error
    bound_half = A @ half.T                                    # what a stored half-step gives
    for b, name in [(bound, "actual err"), (bound_half, "half step")]:
        floor = (approx - b).max(-1, keepdim=True).values
        cand = (approx + b >= floor).sum(-1).float()
        ok = (exact.argmax(-1) == torch.where(approx + b >= floor, exact, torch.full_like(exact, -1e30)).argmax(-1)).all()
        counts.append((name, cand.median().item(), cand.quantile(0.9).item(), cand.max().item(), bool(ok), b.mean().item()))
for c in counts: print(c)
