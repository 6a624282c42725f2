"""Batch-1 sampled decoding speed under the two verification rules (a script, not a test).

Plain decoding and each drafter under the block rule and the token rule (verify.py), interleaved
prompt by prompt so machine noise hits every variant alike, the same seed per prompt for every
variant. Prints tokens/s over all prompts (total tokens / total time), the ratio to plain decoding,
tau (accepted tokens per round, bonus included) and, per drafter, block / token in both.

    python benchmarks/sampled_speed.py [--drafter default] [--drafter dspark ...] [--temperature 1.0]
                                       [--prompts 20] [--max-new-tokens 128] [--sets gsm8k,mt-bench,...]
"""
from __future__ import annotations

import argparse
import statistics

import dspark  # noqa: F401  (before torch: sets GOMP_SPINCOUNT, see dspark/__init__.py)
import torch

from decode_speed import sample_prompts
from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from dspark.verify import RULES


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--drafter", action="append", default=None,
                    help="default, dspark, ngram or a checkpoint directory, optionally @policy (default: default@dspark)")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--sets", default="gsm8k,humaneval,mt-bench,math500,mbpp")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    target = load_target(args.target)
    variants = {"plain": (load_drafter("none", target), "fixed", None, "block")}
    for spec in args.drafter or ["default@dspark"]:
        path, _, policy = spec.partition("@")
        policy = policy or "fixed"
        for rule in RULES:
            # a drafter each: online calibration keeps per-request state, and the rules see different rounds
            variants[f"{spec}, {rule}"] = (load_drafter(path, target), policy, sps_for_policies(policy, target), rule)
    totals = {k: [0, 0.0] for k in variants}
    taus = {k: [] for k in variants}
    prompts = sample_prompts(args.prompts, args.sets)
    for drafter, policy, sps, rule in variants.values():     # warm-up: first calls build and load things
        generate(target, drafter, prompts[0], SamplingParams(args.temperature, seed=0), 8, policy=policy,
                 sps_table=sps, verification=rule)
    for i, prompt in enumerate(prompts):
        ids = target.encode_prompt(prompt)
        params = SamplingParams(args.temperature, args.top_p, seed=i)
        for name, (drafter, policy, sps, rule) in variants.items():
            r = generate(target, drafter, ids, params, args.max_new_tokens, policy=policy, sps_table=sps,
                         verification=rule)
            totals[name][0] += r["num_new_tokens"]
            totals[name][1] += r["elapsed_s"]
            taus[name].append(r["tau"])
        print(f"prompt {i + 1}/{len(prompts)}", flush=True)
    speed = {k: n / t for k, (n, t) in totals.items()}
    tau = {k: statistics.mean(v) for k, v in taus.items()}
    print(f"\nbatch-1 sampled decoding, {args.target}, T = {args.temperature}, top-p {args.top_p}, "
          f"{args.threads} threads, {len(prompts)} prompts from {args.sets} x up to {args.max_new_tokens} new tokens\n")
    print("| variant | tok/s | x plain | tau |\n|---|---|---|---|")
    for k in variants:
        print(f"| {k} | {speed[k]:.1f} | {speed[k] / speed['plain']:.2f} | {tau[k]:.2f} |")
    print("\n| drafter | block / token, speed | block / token, tau |\n|---|---|---|")
    for spec in args.drafter or ["default@dspark"]:
        b, t = f"{spec}, block", f"{spec}, token"
        print(f"| {spec} | {speed[b] / speed[t]:.3f} | {tau[b] / tau[t]:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
