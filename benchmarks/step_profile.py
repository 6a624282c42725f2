"""Where a batch-1 decode step goes, per precision (a script, not a test).

Times forwards of k new tokens (--rows: 1, a decode step; 8, a verification of 7 drafts) after a
~300-token context and splits each into the matrix products, the
attention (the C kernel in the fast precision; cache write, read, mask and SDPA in the exact one),
and everything else (norms, rotary, activations, embedding, Python). The exact precision's parts
are Python functions, wrapped with timers (about 1 us per wrapped call is counted in its own
category); the fast precision's forward is one C call, timed from inside by the runtime's build
with timers (runtime.profiling_lib, RT_PROFILE), which also gives a second table with each part.

    python benchmarks/step_profile.py [--target smollm2-135m] [--steps 60] [--rows 1,8] [--precisions fast]
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import dspark  # noqa: F401  (before torch: sets GOMP_SPINCOUNT, see dspark/__init__.py)
import torch

from dspark.batch import FlatBatch
from dspark.models import decoder, layers, runtime
from dspark.models.loader import load_target

SPENT: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def timed(category: str, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[category] += time.perf_counter() - t0
            CALLS[category] += 1
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", default="1", help="new tokens per forward, a list: 1,8")
    ap.add_argument("--precisions", default="exact,fast")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # The fast forward's parts come from the C timers; the exact one's from wrapped functions:
    # every product and every attention.
    rt = runtime.profiling_lib() if "fast" in args.precisions.split(",") else runtime.lib()
    runtime.qmatmul = timed("products", runtime.qmatmul)
    rt.attention = timed("attention", rt.attention)
    layers.packed_linear = timed("products", layers.packed_linear)
    decoder.cached_attention = timed("attention", decoder.cached_attention)
    context = list(range(100, 400))
    print(f"{args.target}, batch 1, context {len(context)}, {args.threads} threads, median step of {args.steps}; "
          "ms per step (calls per step)\n")
    print("| precision | rows | step | products | attention | everything else |")
    print("|---|---|---|---|---|---|")
    models = {p: load_target(args.target, tokenizer=False, precision=p).model for p in args.precisions.split(",")}
    split = {}         # fast rows -> median ms of each C part
    for precision, k in [(p, int(k)) for p in models for k in args.rows.split(",")]:
        model = models[precision]
        cache = model.new_cache(1, len(context) + k)
        steps = []
        with torch.no_grad():
            model(FlatBatch.build([(0, 0, context)], "cpu"), cache)
            parts, c_parts = [], []
            for i in range(args.steps + 5):
                SPENT.clear()
                CALLS.clear()
                rt.profile()
                with runtime.step_threads(model):      # the threads as the engine's steps have them
                    t0 = time.perf_counter()
                    model(FlatBatch.build([(0, len(context), [7] * k)], "cpu"), cache)
                    dt = time.perf_counter() - t0
                in_c = rt.profile() if precision == "fast" else None
                if in_c:
                    SPENT["products"] += sum(in_c[p] for p in ("qkv", "o", "gate_up", "down", "head"))
                    SPENT["attention"] += in_c["attention"]
                    CALLS["products"], CALLS["attention"] = 4 * len(model.model.layers) + 1, len(model.model.layers)
                cache.truncate(0, len(context))
                if i >= 5:
                    steps.append(dt)
                    parts.append((dict(SPENT), dict(CALLS)))
                    if in_c:
                        c_parts.append(in_c)
        if c_parts:
            split[k] = [statistics.median(s) * 1e3 for s in zip(*(p.values() for p in c_parts))] + \
                [statistics.median(s - sum(p.values()) for s, p in zip(steps, c_parts)) * 1e3]
        med = statistics.median(steps)
        cells = []
        for cat in ("products", "attention"):
            cells.append(f"{statistics.median(p[0].get(cat, 0) for p in parts) * 1e3:.1f} "
                         f"({parts[0][1].get(cat, 0)})")
        other = statistics.median(s - sum(p[0].values()) for s, p in zip(steps, parts))
        print(f"| {precision} | {k} | {med * 1e3:.1f} | {cells[0]} | {cells[1]} | {other * 1e3:.1f} |")
    if split:
        names = [p for p in runtime.PROFILE_PARTS if not p.startswith("draft")]
        print("\nThe fast forward's parts, ms per step (medians; the rest: the embedding, rotary rows and final "
              "norm in C, and the Python around the call)\n")
        print("| rows | " + " | ".join(names) + " | rest |")
        print("|---|" + "---|" * (len(names) + 1))
        for k, ms in split.items():
            cells = ms[:len(names)] + ms[-1:]
            print(f"| {k} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
