"""Session 44: batched regeneration (`deepspec regenerate`'s engine backend and recipe, batch 32,
plain decoding) with sampling in C against sampling in torch (sampling._runtime off), alternated
in one process; answer tokens per second."""
import sys, time
import dspark  # noqa: F401
import torch
from deepspec.data.prompts import load_prompts
from deepspec.data.regenerate import EngineBackend, RegenSettings
from dspark import sampling
from dspark.drafters import load as load_drafter
from dspark.models.loader import load_target
torch.set_num_threads(2)
target = load_target("smollm2-135m")
records = load_prompts("data/prompts/train-extra-8k.jsonl")[:32]
settings = RegenSettings(max_new_tokens=int(sys.argv[1]) if len(sys.argv) > 1 else 128)
print(f"{len(records)} prompts, up to {settings.max_new_tokens} tokens, T {settings.temperature} top-p {settings.top_p} "
      f"top-k {settings.top_k}, batch 32")
real = sampling._runtime
for rep in range(int(sys.argv[2]) if len(sys.argv) > 2 else 2):
    for name, impl in ([("C", real), ("torch", lambda: None)] if rep % 2 == 0 else [("torch", lambda: None), ("C", real)]):
        sampling._runtime = impl
        backend = EngineBackend(target, load_drafter("none", target), 32, settings)
        tokens = 0

        def done(row):
            global tokens
            tokens += row["generation"]["num_tokens"]

        t0 = time.perf_counter()
        backend.run(records, done, lambda cid, msg: print(f"  failed {cid}: {msg}"))
        wall = time.perf_counter() - t0
        print(f"run {rep + 1} {name:6s} {tokens} answer tokens in {wall:.1f} s: {tokens / wall:.0f} tok/s", flush=True)
sampling._runtime = real
