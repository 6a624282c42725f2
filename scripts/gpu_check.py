#!/usr/bin/env python
"""One short check of the whole stack on a CUDA machine, with a summary at the end.

    python scripts/gpu_check.py [--device cuda] [--steps 300] [--quick]

1. the tests marked `gpu` (losslessness, sampling, round statistics) with DSPARK_TEST_DEVICE set
2. plain and speculative greedy decoding of the default target (fp32: token-identical; bf16: speed)
3. a few hundred DSpark training steps in bf16 on online target features
4. a small serving sweep (dspark bench, in process: none / fixed / dspark at concurrency 1, 4, 16)

Every step runs as its own command (the ones the README documents), so a failure in one is reported
and the others still run. Budget: about 6-8 minutes on one recent GPU (--quick: about 3).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(name: str, cmd: list[str], env: dict | None = None, timeout: float = 600) -> tuple[bool, str, float]:
    print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                           timeout=timeout)
        ok, out = p.returncode == 0, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        ok, out = False, f"timed out after {timeout:.0f} s\n{e.stdout or ''}{e.stderr or ''}"
    dt = time.perf_counter() - t0
    print(out[-3000:], flush=True)
    return ok, out, dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=300, help="training steps (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="fewer steps, tokens and levels")
    args = ap.parse_args()
    steps = 60 if args.quick else args.steps
    dspark = [sys.executable, "-m", "dspark.cli"]
    deepspec = [sys.executable, "-m", "deepspec.cli"]
    summary: list[tuple[str, bool, float, str]] = []

    ok, out, dt = run("tests", [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"],
                      env={"DSPARK_TEST_DEVICE": args.device})
    summary.append(("tests -m gpu", ok, dt, out.strip().splitlines()[-1] if out.strip() else ""))

    ok, out, dt = run("pull", dspark + ["pull", "smollm2-135m", "--no-prepare"])
    summary.append(("pull", ok, dt, ""))

    n = 64 if args.quick else 200
    texts = {}
    for label, extra in (("plain fp32", ["--drafter", "none", "--policy", "none"]),
                         ("n-gram fp32", ["--drafter", "ngram", "--policy", "fixed"]),
                         ("dspark fp32", ["--drafter", "dspark", "--policy", "fixed"]),
                         ("plain bf16", ["--drafter", "none", "--policy", "none", "--dtype", "bfloat16"]),
                         ("dspark bf16", ["--drafter", "dspark", "--policy", "dspark", "--dtype", "bfloat16"])):
        ok, out, dt = run(label, dspark + ["generate", "--device", args.device, "--max-tokens", str(n), "--json"]
                          + extra)
        note = ""
        if ok:
            try:
                res = json.loads(out.strip().splitlines()[-1])
                texts[label] = res["token_ids"]
                note = f"{res['tokens_per_second']:.1f} tok/s, tau {res['tau'] or 0:.2f}"
            except (ValueError, KeyError, IndexError) as e:
                ok, note = False, f"unreadable output: {e}"
        summary.append((f"generate {label}", ok, dt, note))
    if "plain fp32" in texts:
        for label in ("n-gram fp32", "dspark fp32"):
            if label in texts:
                same = texts[label] == texts["plain fp32"]
                summary.append((f"lossless {label} == plain", same, 0.0, "token-identical" if same else "DIFFERENT"))

    with tempfile.TemporaryDirectory() as tmp:
        ok, out, dt = run("train bf16", deepspec + [
            "train", "--config", "configs/dspark-smollm2-135m.toml", "--resume", "never", "--max-steps", str(steps),
            f"out_dir={tmp}/run", f"device={args.device}", "precision=bf16", "data.features=online",
            "logging.checkpoint_every=100000", "logging.tensorboard=false"], timeout=900)
        note = ""
        log = Path(tmp) / "run" / "train_log.jsonl"
        if log.exists():
            rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
            if rows:
                first, last = rows[0], rows[-1]
                note = (f"step {last.get('step')}: loss {first.get('loss', float('nan')):.3f} -> "
                        f"{last.get('loss', float('nan')):.3f}, {last.get('tokens_per_s', 0):.0f} tok/s")
        summary.append((f"train {steps} steps bf16", ok, dt, note))

        ok, out, dt = run("bench", dspark + [
            "bench", "--device", args.device, "--drafter", "dspark", "--policies", "none,fixed,dspark",
            "--concurrency", "1,4" if args.quick else "1,4,16", "--num-requests", "8" if args.quick else "32",
            "--max-tokens", "64", "--num-prompts", "64", "--output-dir", f"{tmp}/bench"])
        table = [x for x in out.splitlines() if x[:5].strip().isdigit()]
        summary.append(("bench sweep", ok, dt, f"{len(table)} rows"))

    print("\n=== summary")
    for name, ok, dt, note in summary:
        print(f"{'PASS' if ok else 'FAIL'}  {name:<32} {dt:7.1f} s  {note}")
    return 0 if all(ok for _, ok, _, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
