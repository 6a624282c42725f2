"""Session 44: serving at T 1 (the OpenAI API's default) with sampling in C against torch
(sampling._runtime off), plain decoding (`none`) and the dspark policy with the default drafter,
in-process closed loop (dspark bench's engine level), the same ShareGPT requests; argv: levels."""
import sys, time
import dspark  # noqa: F401
import torch
from dspark import sampling
from dspark.bench import load_sharegpt, run_engine_level
from dspark.drafters import load as load_drafter
from dspark.engine import make_engine
from dspark.models.loader import load_target
from dspark.profile import sps_table_for
from dspark.sampling import SamplingParams
torch.set_num_threads(2)
levels = [int(c) for c in (sys.argv[1] if len(sys.argv) > 1 else "4,16,32").split(",")]
target = load_target("smollm2-135m")
sps = sps_table_for(target)
drafter = load_drafter("default", target)
requests = load_sharegpt(lambda t: target.encode_prompt(t, None), target.tokenizer, 96, 512, 96)
real = sampling._runtime
impls = {"C": real, "torch": lambda: None}
for c in levels:
    for rep in range(2):
        for name in (["C", "torch"] if rep % 2 == 0 else ["torch", "C"]):
            for policy in ("none", "dspark"):
                sampling._runtime = impls[name]
                engine = make_engine(target, drafter if policy == "dspark" else None, tokens=1024, max_batch=c,
                                     policy=policy, sps_table=sps)
                t0 = time.perf_counter()
                done, wall = run_engine_level(engine, requests, c, SamplingParams(1.0, 1.0, 0, 0), num_requests=min(96, 3 * c))
                toks = sum(r.output_tokens for r in done)
                print(f"c {c:2d} run {rep + 1} {name:6s} {policy:6s} {toks / wall:6.1f} tok/s ({len(done)} requests)", flush=True)
sampling._runtime = real
