"""Regeneration throughput (`deepspec regenerate`'s engine backend) and where its time goes (a
script, not a test).

Runs the same training prompts through the engine backend once per variant (drafter x batch size),
in one process, with the reference recipe's sampling, and prints answer tokens per second plus the
share of wall time spent in target forwards, drafting, and everything else (verification,
sampling, the engine's bookkeeping).

    python benchmarks/regen_speed.py [--prompts 64] [--batches 32] [--drafters none,ngram]
"""
from __future__ import annotations

import argparse
import time

import dspark  # noqa: F401  (before torch: sets GOMP_SPINCOUNT, see dspark/__init__.py)
import torch

from deepspec.data.prompts import load_prompts
from deepspec.data.regenerate import EngineBackend, RegenSettings
from dspark.drafters import load as load_drafter
from dspark.models import runtime
from dspark.models.loader import load_target
from step_profile import SPENT, timed     # the timers of benchmarks/step_profile.py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--prompts-file", default="data/prompts/train.jsonl")
    ap.add_argument("--prompts", type=int, default=64, help="conversations per variant")
    ap.add_argument("--skip", type=int, default=0, help="start at this prompt (keep away from warm caches)")
    ap.add_argument("--batches", default="32", help="comma-separated --max-batch values")
    ap.add_argument("--drafters", default="none,ngram")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    target = load_target(args.target)
    model_call = type(target.model).__call__
    type(target.model).__call__ = timed("forward", model_call)
    # inside the forward: the products and the attention of the C runtime (fast precision)
    runtime.qmatmul = timed("products", runtime.qmatmul)
    rt = runtime.lib()
    rt.attention = timed("attention", rt.attention)
    records = load_prompts(args.prompts_file)[args.skip:args.skip + args.prompts]
    settings = RegenSettings(max_new_tokens=args.max_new_tokens)
    print(f"{args.target}, {len(records)} prompts, up to {args.max_new_tokens} tokens, T {settings.temperature} "
          f"top-p {settings.top_p} top-k {settings.top_k}, {args.threads} threads\n")
    print("| drafter | batch | answer tokens | user-turn tokens | tok/s | forward (products, attention) | drafting | else |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in [int(b) for b in args.batches.split(",")]:
        for name in args.drafters.split(","):
            drafter = load_drafter(name, target)
            drafter.propose = timed("draft", drafter.propose)
            backend = EngineBackend(target, drafter, batch, settings)
            SPENT.clear()
            tokens = 0
            prompt_tokens = sum(len(target.encode_prompt(m["content"])) for r in records
                                for m in r.messages if m["role"] == "user")

            def done(row):
                nonlocal tokens
                tokens += row["generation"]["num_tokens"]

            t0 = time.perf_counter()
            backend.run(records, done, lambda cid, msg: print(f"  failed {cid}: {msg}"))
            wall = time.perf_counter() - t0
            fwd, draft = SPENT["forward"], SPENT["draft"]
            print(f"| {name} | {batch} | {tokens} | {prompt_tokens} | {tokens / wall:.0f} | {fwd / wall:.0%} "
                  f"({SPENT['products'] / wall:.0%}, {SPENT['attention'] / wall:.0%}) | {draft / wall:.0%} "
                  f"| {(wall - fwd - draft) / wall:.0%} |", flush=True)


if __name__ == "__main__":
    main()
