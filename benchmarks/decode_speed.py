"""Batch-1 greedy decoding speed: transformers' generate (KV cache) against our engine with no
drafter (plain decoding), the n-gram drafter and trained drafters, in one process on the same prompts.

    python benchmarks/decode_speed.py [--target smollm2-135m] [--drafter SPEC ...] [--max-new-tokens 128]
                                      [--prompts 6] [--sets gsm8k,humaneval,...] [--threads 2]

SPEC is `default` (the committed drafter), `ngram`, or a checkpoint directory, optionally with a
verification policy after `@` (`default@dspark`, `runs/x/final@threshold`; default `fixed`).
Runs are interleaved prompt by prompt so machine noise hits every variant alike; prints, per
variant, tokens/s over all prompts (total tokens / total time) and the median and range across
prompts, ratios to transformers and to our plain decoding, and whether each variant's tokens equal
transformers' greedy output. When the target's weights are packed (dspark/models/packed.py), the
variant "plain, fp32 weights" runs plain decoding again with the packed kernel off.
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


DEFAULT_SETS = "gsm8k,humaneval,mt-bench,math500,mbpp"


def sample_prompts(n: int, sets: str = DEFAULT_SETS) -> list[str]:
    """First turns from the named benchmark sets, round-robin."""
    pools = []
    for name in sets.split(","):
        p = EVAL_DIR / f"{name.strip()}.jsonl"
        if not p.exists():
            raise SystemExit(f"decode_speed: no benchmark set {p}")
        pools.append([json.loads(line)["turns"][0] for line in p.read_text().splitlines()[:50]])
    return [pools[i % len(pools)][i // len(pools)] for i in range(n)]


def variant_name(spec: str, policy: str) -> str:
    from deepspec.eval.evaluate import drafter_name
    name = drafter_name(spec)
    return name if policy == "fixed" else f"{name}@{policy}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--drafter", action="append", default=[],
                    help="extra variants: default, ngram or a checkpoint dir, optionally @policy")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--prompts", type=int, default=6)
    ap.add_argument("--sets", default=DEFAULT_SETS, help="comma-separated benchmark sets to draw prompts from")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-hf", action="store_true", help="skip transformers' generate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM

    from dspark.drafters import load as load_drafter
    from dspark.generate import generate
    from dspark.models import packed
    from dspark.models.loader import load_target
    from dspark.profile import sps_for_policies
    from dspark.sampling import SamplingParams

    target = load_target(args.target)
    # name -> (drafter, policy, SPS table)
    variants = {"plain": (load_drafter("none", target), "fixed", None),
                "ngram": (load_drafter("ngram", target), "fixed", None)}
    # The same plain decoding with the packed-weight kernel off: what packing alone buys.
    unpacked = "plain, fp32 weights"
    if packed.is_packed(target.model):
        variants[unpacked] = variants["plain"]
    for spec in args.drafter:
        path, _, policy = spec.partition("@")
        policy = policy or "fixed"
        variants[variant_name(path, policy)] = (load_drafter(path, target), policy,
                                                sps_for_policies(policy, target))
    hf = None if args.no_hf else AutoModelForCausalLM.from_pretrained(str(target.path), dtype=torch.float32).eval()

    prompts = sample_prompts(args.prompts, args.sets)
    tps = {k: [] for k in (["transformers"] if hf else []) + list(variants)}
    totals = {k: [0, 0.0] for k in tps}   # tokens, seconds
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
            totals["transformers"][0] += len(ref)
            totals["transformers"][1] += dt
        for name, (drafter, policy, sps) in variants.items():
            with packed.kernel_rows(0 if name == unpacked else packed.KERNEL_MAX_ROWS):
                r = generate(target, drafter, ids, SamplingParams(), args.max_new_tokens, policy=policy,
                             sps_table=sps)
            tps[name].append(r["tokens_per_second"])
            totals[name][0] += r["num_new_tokens"]
            totals[name][1] += r["elapsed_s"]
            taus[name].append(r["tau"])
            if ref is not None:
                same[name] += r["token_ids"] == ref
        print(f"prompt {i + 1}/{len(prompts)}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in tps.items()),
              file=sys.stderr)

    overall = {k: n / t for k, (n, t) in totals.items()}
    med = {k: statistics.median(v) for k, v in tps.items()}
    spread = {k: (min(v), max(v)) for k, v in tps.items()}
    print(f"\nbatch-1 greedy decoding, {args.target}, fp32, {args.threads} threads, {len(prompts)} prompts "
          f"from {args.sets} x up to {args.max_new_tokens} new tokens\n"
          f"(tok/s = all tokens / all time; median and min-max across prompts)\n")
    print("| variant | tok/s | median | min-max | x transformers | x plain | tau | identical to transformers |")
    print("|---|---|---|---|---|---|---|---|")
    for k in tps:
        x_hf = f"{overall[k] / overall['transformers']:.2f}" if "transformers" in overall else "-"
        tau = f"{statistics.mean(taus[k]):.2f}" if k in taus else "-"
        ident = f"{same[k]}/{len(prompts)}" if k in same and hf is not None else "-"
        print(f"| {k} | {overall[k]:.1f} | {med[k]:.1f} | {spread[k][0]:.1f}-{spread[k][1]:.1f} | {x_hf} | "
              f"{overall[k] / overall['plain']:.2f} | {tau} | {ident} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
