"""A sampled DSpark round that stops at the first draft the policy would not verify
(Policy.draft_stop), against the whole block sampled, and the sampled Markov loop in one C call
(runtime.DraftForward.markov_sample) against the loop in Python, at batch 1 (a script, not a test).

    python docs/results/session37/ab_sampled_stop.py [--prompts 12] [--temperature 0.7] [--top-p 0.9]

Variants alternate prompt by prompt in one process: plain, DSpark alone and the default drafter
(n-gram lookup, DSpark behind it), each drafting the whole block (loop in Python), stopping (loop
in Python) and stopping with the loop in C. Prints tok/s and x plain."""
import argparse
import sys
from collections import defaultdict
from pathlib import Path

import dspark  # noqa: F401  (before torch)
import torch

from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from dspark.drafters.dspark import DSparkDrafter
from dspark.schedule import DSparkPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from decode_speed import sample_prompts  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--prompts", type=int, default=12)
ap.add_argument("--temperature", type=float, default=0.7)
ap.add_argument("--top-p", type=float, default=0.9)
ap.add_argument("--max-new-tokens", type=int, default=128)
args = ap.parse_args()
torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
real_stop, real_loop = DSparkPolicy.draft_stop, DSparkDrafter._sample_in_c
variants = {"plain": ("none", "fixed", True, True)}
for name in ("dspark", "default"):
    variants[f"{name}, whole block, loop in Python"] = (name, "dspark", False, False)
    variants[f"{name}, stop, loop in Python"] = (name, "dspark", True, False)
    variants[f"{name}, stop, loop in C"] = (name, "dspark", True, True)
drafters = {v: load_drafter(d, target) for v, (d, _, _, _) in variants.items()}
tok, sec = defaultdict(int), defaultdict(float)
for i, prompt in enumerate(sample_prompts(args.prompts, "gsm8k,humaneval,math500,mbpp,livecodebench")):
    ids = target.encode_prompt(prompt, None)
    for v, (_, policy, stop, in_c) in variants.items():
        DSparkPolicy.draft_stop = real_stop if stop else (lambda self, seqs: None)
        DSparkDrafter._sample_in_c = real_loop if in_c else (lambda self, *a: None)
        params = SamplingParams(temperature=args.temperature, top_p=args.top_p, seed=i)
        r = generate(target, drafters[v], ids, params, args.max_new_tokens, policy=policy,
                     sps_table=sps if policy == "dspark" else None)
        tok[v] += r["num_new_tokens"]
        sec[v] += r["elapsed_s"]
    print(f"prompt {i + 1}/{args.prompts}", flush=True)
print(f"\nbatch 1, T {args.temperature}, top-p {args.top_p}, {args.prompts} prompts x {args.max_new_tokens} tokens\n")
print("| variant | tok/s | x plain |")
print("|---|---|---|")
for v in variants:
    print(f"| {v} | {tok[v] / sec[v]:.1f} | {tok[v] / sec[v] / (tok['plain'] / sec['plain']):.2f} |")
