"""What a verification costs: whole target forwards of k new tokens after a ~300-token context, at
batch 1, for k = 1..16, in each precision (a script, not a test).

fast: the integer runtime (8-bit activations, models/qkernels.c), on every instruction-set path
this CPU runs; exact: fp32 activations (packed_gemv.c up to KERNEL_MAX_ROWS rows, BLAS beyond).
The variants are interleaved repeat by repeat so machine noise hits all alike; printed: medians in
ms and forward(k) / forward(1) of the same variant.

    python benchmarks/packed_linear.py [--target smollm2-135m] [--rows 1,2,...,16] [--paths all]
"""
from __future__ import annotations

import argparse
import statistics
import time

import dspark  # noqa: F401  (before torch: sets GOMP_SPINCOUNT, see dspark/__init__.py)
import torch

from dspark.batch import FlatBatch
from dspark.models import runtime
from dspark.models.loader import load_target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--rows", default=",".join(str(k) for k in range(1, 17)))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--context", type=int, default=300)
    ap.add_argument("--paths", default="best", help="fast-precision kernel paths: best, all, or a list")
    ap.add_argument("--no-exact", action="store_true", help="skip the exact precision")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [int(r) for r in args.rows.split(",")]
    rt = runtime.lib()
    best = runtime.path_name(rt.best)
    paths = {"best": [best], "all": [p for p, c in runtime.PATHS.items() if c in rt.supported]}.get(
        args.paths, args.paths.split(","))
    models = {f"fast/{p}": (load_target(args.target, tokenizer=False, precision="fast").model, p) for p in paths[:1]}
    for p in paths[1:]:
        models[f"fast/{p}"] = (models[f"fast/{paths[0]}"][0], p)
    if not args.no_exact:
        models["exact"] = (load_target(args.target, tokenizer=False, precision="exact").model, None)
    context = list(range(100, 100 + args.context))
    caches = {}
    times: dict[tuple[str, int], list[float]] = {}
    with torch.no_grad():
        for name, (model, _) in models.items():
            if id(model) not in caches:
                caches[id(model)] = model.new_cache(1, args.context + 64)
                model(FlatBatch.build([(0, 0, context)], "cpu"), caches[id(model)])
        for rep in range(args.repeats + 1):         # the first round warms up and is dropped
            for k in rows:
                for name, (model, path) in models.items():
                    if path is not None:
                        rt.force(path)
                    cache = caches[id(model)]
                    batch = FlatBatch.build([(0, len(context), [5 + i for i in range(k)])], "cpu")
                    t0 = time.perf_counter()
                    model(batch, cache)
                    dt = time.perf_counter() - t0
                    cache.truncate(0, len(context))
                    if rep:
                        times.setdefault((name, k), []).append(dt * 1e3)
    rt.force(best)
    print(f"{args.target}, batch 1, context {args.context}, {args.threads} threads, medians of {args.repeats} "
          f"interleaved repeats (ms; in brackets forward(k) / forward(1))")
    names = list(models)
    print("\n| k | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for k in rows:
        cells = []
        for name in names:
            med = statistics.median(times[(name, k)])
            cells.append(f"{med:.1f} ({med / statistics.median(times[(name, rows[0])]):.2f}x)")
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
