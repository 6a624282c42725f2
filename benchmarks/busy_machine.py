"""`dspark generate` on a busy machine: default threads against --threads 1, with N CPU-bound
processes competing for the cores (a script, not a test).

Each repeat runs, interleaved, the default and --threads 1 on the quiet machine and again while
`--busy` processes spin; every run is a fresh `dspark generate --json` process, as a user would start
it. Prints tok/s medians and the ratios the CPU-runtime issue asks for.

    python benchmarks/busy_machine.py [--busy 2] [--repeats 3] [--max-tokens 96] [-- extra generate args]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROMPT = "Write a Python function that reverses a list, and explain it briefly."


def generate(extra: list[str], max_tokens: int) -> float:
    out = subprocess.run(["dspark", "generate", "--json", "--max-tokens", str(max_tokens), *extra, PROMPT],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["tokens_per_second"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=2, help="CPU-bound processes competing for the cores")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("extra", nargs="*", help="more `dspark generate` arguments (after --)")
    args = ap.parse_args()
    runs: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.repeats):
        for load in ("quiet", "busy"):
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(args.busy if load == "busy" else 0)]
            try:
                for threads in ("default", "1"):
                    extra = list(args.extra) + ([] if threads == "default" else ["--threads", "1"])
                    tps = generate(extra, args.max_tokens)
                    runs.setdefault((load, threads), []).append(tps)
                    print(f"repeat {rep + 1}: {load}, threads {threads}: {tps:.1f} tok/s", file=sys.stderr)
            finally:
                for h in hogs:
                    h.kill()
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\n`dspark generate` ({args.max_tokens} tokens), medians of {args.repeats}; busy = {args.busy} "
          "CPU-bound processes on the same cores\n")
    print("| machine | default threads tok/s | --threads 1 tok/s | default / --threads 1 |")
    print("|---|---|---|---|")
    for load in ("quiet", "busy"):
        d, one = med[(load, "default")], med[(load, "1")]
        spread = lambda k: f"{min(runs[k]):.1f}-{max(runs[k]):.1f}"  # noqa: E731
        print(f"| {load} | {d:.1f} ({spread((load, 'default'))}) | {one:.1f} ({spread((load, '1'))}) | {d / one:.2f} |")
    print(f"\nbusy default / quiet default: {med[('busy', 'default')] / med[('quiet', 'default')]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
