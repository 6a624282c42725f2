"""`dspark pull NAME...`: install a named target's weight package, convert it to safetensors and do
the rest of the one-time work (packing the weights for the CPU kernel) here rather than silently
inside the first `dspark generate`."""
from __future__ import annotations

import sys
import time


def add_arguments(p) -> None:
    from ..models.loader import NAMED_TARGETS
    p.add_argument("names", nargs="+", metavar="NAME", choices=list(NAMED_TARGETS),
                   help="named target(s): " + ", ".join(f"{k} ({v.description})" for k, v in NAMED_TARGETS.items()))
    p.add_argument("--no-prepare", action="store_true",
                   help="install and convert only; leave packing the weights to the first load")


def run(args) -> int:
    from ..models.loader import load_target, pull
    for name in args.names:
        path = pull(name)
        if not args.no_prepare:
            print(f"preparing {name} for decoding (packing weights for the CPU kernel; once, cached)",
                  file=sys.stderr)
            t0 = time.perf_counter()
            load_target(name, tokenizer=False)
            print(f"{name} ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        print(path)
    return 0
