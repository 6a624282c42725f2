"""Packed weights against the fp32 BLAS product on a real target (a script, not a test).

For each row count: all of the target's products in a decode step (the weights of every layer read
once, as in a real step, so nothing stays in cache), through the packed kernel and through F.linear
on the fp32 copy; then whole target forwards of k new tokens after a 300-token context. This is what
`KERNEL_MAX_ROWS` in dspark/models/packed.py was chosen from.

    python benchmarks/packed_linear.py [--target smollm2-135m] [--rows 1,2,3,4,8,12,16,24,32]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from dspark.batch import FlatBatch
from dspark.models import packed
from dspark.models.loader import load_target


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--rows", default="1,2,3,4,8,12,16,24,32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    target = load_target(args.target, tokenizer=False)
    model = target.model
    products = [(getattr(owner, attr), w) for _, owner, attr, w in packed._products(model)]
    products = [(p, w) for p, w in products if p is not None]
    rows = [int(r) for r in args.rows.split(",")]
    print(f"{args.target}: {len(products)} packed products, {args.threads} threads, medians of {args.repeats}")
    print("\n| rows | packed ms | fp32 BLAS ms | BLAS / packed | forward packed ms | forward fp32 ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    cache = model.new_cache(1, 1024)
    context = list(range(100, 400))
    with torch.no_grad():
        model(FlatBatch.build([(0, 0, context)], "cpu"), cache)

        def forward(k: int) -> None:
            model(FlatBatch.build([(0, len(context), [5] * k)], "cpu"), cache)
            cache.truncate(0, len(context))

        for m in rows:
            xs = {w.shape[1]: torch.randn(m, w.shape[1]) for _, w in products}
            t_packed = median_ms(lambda: [p(xs[w.shape[1]]) for p, w in products], args.repeats)
            t_blas = median_ms(lambda: [F.linear(xs[w.shape[1]], w) for _, w in products], args.repeats)
            with packed.kernel_rows(1 << 30):
                f_packed = median_ms(lambda: forward(m), args.repeats)
            with packed.kernel_rows(0):
                f_blas = median_ms(lambda: forward(m), args.repeats)
            print(f"| {m} | {t_packed:.1f} | {t_blas:.1f} | {t_blas / t_packed:.2f} | {f_packed:.1f} | "
                  f"{f_blas:.1f} | {f_blas / f_packed:.2f} |")
    print(f"\nKERNEL_MAX_ROWS = {packed.KERNEL_MAX_ROWS}: the packed kernel takes batches of up to this many rows.")


if __name__ == "__main__":
    main()
