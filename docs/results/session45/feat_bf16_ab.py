"""Session 45: online features (the trainer's OnlineFeatures) with the integer kernel against bf16
products (runtime.use_bf16_products), alternated in one process, on 16 T = 1 conversations."""
import time, sys, torch
from dspark.models.loader import load_target
from dspark.models import runtime
from deepspec.data.features import OnlineFeatures
from deepspec.data.tokenize import load_tokenized
torch.set_num_threads(2)
t = load_target("smollm2-135m")
samples = load_tokenized("data/regen/smollm2-135m-t1-8k", t.tokenizer, 1024, vocab_size=t.config.vocab_size, limit=16)
ntok = sum(len(s.input_ids) for s in samples)
taps = [1, 8, 14, 20, 27]
src = OnlineFeatures(t.model, taps, 2048)
rt = t.model.runtime
print("cpu_has_bf16", runtime.cpu_has_bf16(), "tokens", ntok, flush=True)
ref = src(samples[:2])
runtime.use_bf16_products(t.model)
bf_rows = rt.bf16_rows
got = src(samples[:2])
err = max(((a.taps - b.taps).norm() / b.taps.norm()).item() for a, b in zip(got, ref))
print(f"bf16 vs int8 taps rel. error {err:.4f}", flush=True)
for rep in range(3):
    for name, rows in (("int8", 0), ("bf16", bf_rows)):
        rt.bf16_rows = rows
        t0 = time.perf_counter(); src(samples); dt = time.perf_counter() - t0
        print(f"{name}: {dt:.2f} s, {ntok / dt:.0f} tok/s", flush=True)
