"""Batch-1 greedy decoding speed: transformers' generate (KV cache) against our engine with no
drafter (plain decoding), the n-gram drafter and trained drafters, in one process on the same prompts.

    python benchmarks/decode_speed.py [--target smollm2-135m] [--drafter PATH ...] [--max-new-tokens 128]
                                      [--prompts 6] [--repeats 1] [--threads 2]

Runs are interleaved prompt by prompt so machine noise hits every variant alike; prints median
tokens/s per variant, ratios to transformers and to our plain decoding, and whether each variant's
tokens equal transformers' greedy output.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT.parent / "shared" / "eval_datasets"


def sample_prompts(n: int) -> list[str]:
    """First turns from the math, code and chat sets, round-robin."""
    files = ["gsm8k.jsonl", "humaneval.jsonl", "mt-bench.jsonl", "math500.jsonl", "mbpp.jsonl"]
    pools = []
    for f in files:
        p = EVAL_DIR / f
        if p.exists():
            pools.append([json.loads(line)["turns"][0] for line in p.read_text().splitlines()[:50]])
    if not pools:
        return ["Write a Python function that returns the n-th Fibonacci number."] * n
    return [pools[i % len(pools)][i // len(pools)] for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--drafter", action="append", default=[], help="extra drafters (checkpoint dirs)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--prompts", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-hf", action="store_true", help="skip transformers' generate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM

    from dspark.drafters import load as load_drafter
    from dspark.generate import generate
    from dspark.models.loader import load_target
    from dspark.sampling import SamplingParams

    target = load_target(args.target)
    variants = {"plain": load_drafter("none", target), "ngram": load_drafter("ngram", target)}
    for d in args.drafter:
        variants[Path(d).name] = load_drafter(d, target)
    hf = None if args.no_hf else AutoModelForCausalLM.from_pretrained(str(target.path), dtype=torch.float32).eval()

    prompts = sample_prompts(args.prompts)
    tps = {k: [] for k in (["transformers"] if hf else []) + list(variants)}
    same = {k: 0 for k in variants}
    taus = {k: [] for k in variants}
    for i, prompt in enumerate(prompts):
        ids = target.encode_prompt(prompt)
        ref = None
        if hf is not None:
            x = torch.tensor([ids])
            t0 = time.perf_counter()
            with torch.no_grad():
                out = hf.generate(x, max_new_tokens=args.max_new_tokens, do_sample=False, use_cache=True,
                                  eos_token_id=sorted(target.eos_ids), pad_token_id=target.config.pad_token_id)
            dt = time.perf_counter() - t0
            ref = out[0, len(ids):].tolist()
            tps["transformers"].append(len(ref) / dt)
        for name, drafter in variants.items():
            r = generate(target, drafter, ids, SamplingParams(), args.max_new_tokens)
            tps[name].append(r["tokens_per_second"])
            taus[name].append(r["tau"])
            if ref is not None:
                same[name] += r["token_ids"] == ref
        print(f"prompt {i + 1}/{len(prompts)}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in tps.items()),
              file=sys.stderr)

    med = {k: statistics.median(v) for k, v in tps.items()}
    spread = {k: (min(v), max(v)) for k, v in tps.items()}
    print(f"\nbatch-1 greedy decoding, {args.target}, fp32, {args.threads} threads, {len(prompts)} prompts x "
          f"{args.max_new_tokens} new tokens (median tokens/s; min-max across prompts)\n")
    print(f"| variant | tok/s | min-max | x transformers | x plain | tau | identical to transformers |")
    print("|---|---|---|---|---|---|---|")
    for k in tps:
        x_hf = f"{med[k] / med['transformers']:.2f}" if "transformers" in med else "-"
        tau = f"{statistics.mean(taus[k]):.2f}" if k in taus else "-"
        ident = f"{same[k]}/{len(prompts)}" if k in same and hf is not None else "-"
        print(f"| {k} | {med[k]:.1f} | {spread[k][0]:.1f}-{spread[k][1]:.1f} | {x_hf} | "
              f"{med[k] / med['plain']:.2f} | {tau} | {ident} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
