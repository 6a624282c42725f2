"""`dspark profile`: measure the target's steps per second against tokens per forward and write the
SPS table the hardware-aware policies read (`dspark serve --policy dspark` and friends)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import DSparkError
from .options import add_target_arguments, positive_int_list, setup_torch


def add_arguments(p) -> None:
    from ..profile import DEFAULT_TOKENS
    add_target_arguments(p, drafter_default=None)      # profiling runs the target alone
    p.add_argument("--tokens", default=",".join(map(str, DEFAULT_TOKENS)),
                   help="comma-separated tokens per forward to measure (default: %(default)s)")
    p.add_argument("--context", type=int, default=256, help="cached tokens per sequence (default: %(default)s)")
    p.add_argument("--max-seqs", type=int, default=8,
                   help="a step of B tokens is split over min(B, max_seqs) sequences (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=9, help="timed repeats per size; the median counts "
                                                          "(default: %(default)s)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed forwards at the smallest and largest size first (default: %(default)s)")
    p.add_argument("--time-budget", type=float, default=None,
                   help="seconds after which no further repeat starts (default: none)")
    p.add_argument("--output", default=None,
                   help="where to write the table (default: the cache file `dspark serve` reads)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing table even when this machine was busy while measuring")
    p.add_argument("--json", action="store_true", help="print the table as JSON")


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from ..models.loader import load_target
    from ..profile import (busy_warning, current_load, default_sps_path, dtype_name, format_table, label,
                           machine_busy, profile_sps)
    from ..schedule import SPSTable
    sizes = positive_int_list(args.tokens, "--tokens")
    if args.context < 1 or args.max_seqs < 1 or args.repeats < 1 or args.warmup < 0:
        raise DSparkError("--context, --max-seqs and --repeats must be >= 1 and --warmup >= 0")
    setup_torch(args)
    target = load_target(args.target, device=args.device, dtype=args.dtype, tokenizer=False)
    out = Path(args.output) if args.output else default_sps_path(target, args.device, args.dtype,
                                                                 torch.get_num_threads())
    load, cpus = current_load()
    if machine_busy(load, cpus):
        print(f"warning: the machine is busy (load average {load} on {cpus} CPUs); the timings will be "
              f"unreliable", file=sys.stderr)
    print(f"profiling {target.name}: {len(sizes)} sizes x {args.repeats} repeats, up to {max(sizes)} tokens per "
          f"forward (the largest take longest; the bar's estimate firms up after the first round)", file=sys.stderr)
    t0 = time.perf_counter()
    with tqdm(total=len(sizes) * args.repeats, unit="forward", file=sys.stderr, disable=args.json) as bar:
        def progress(done, total):
            bar.total = total          # the one-sequence sizes come on top of --tokens
            bar.update(done - bar.n)
        table = profile_sps(target.model, sizes, context=args.context, max_seqs=args.max_seqs,
                            repeats=args.repeats, warmup=args.warmup, time_budget=args.time_budget,
                            progress=progress)
    label(table, target)
    warning = busy_warning(table)
    kept = None
    if warning and out.exists() and not args.force:
        try:
            old_busy = busy_warning(SPSTable.load(out))
        except DSparkError:
            old_busy = "unreadable"
        if not old_busy:   # do not replace a table measured on a quiet machine with this one
            kept, out = out, out.with_name(out.stem + ".busy.json")
    table.save(out)
    if args.json:
        print(json.dumps(table.to_json()))
        return 0
    print(format_table(table))
    if warning:
        print(warning, file=sys.stderr)
    if kept:
        print(f"kept {kept} (measured on a quiet machine); this table went to {out}. "
              f"Re-run on a quiet machine, or pass --force to replace it.", file=sys.stderr)
    print(f"\n[{target.name} on {args.device}/{dtype_name(args.dtype)}, {torch.get_num_threads()} threads, "
          f"context {args.context}: profiled in {time.perf_counter() - t0:.1f} s; written to {out}]",
          file=sys.stderr)
    return 0
