"""A batch-1 drafting round in one C call (rt_draft_round) against the same round in steps
(runtime.context, runtime.block, the head, runtime.markov_greedy, the torch confidence head), on
the real SmolLM2 target and drafters (a script, not a test).

    python docs/results/session37/ab_fused_round.py [--prompts 12] [--temperature 0]

Variants alternate prompt by prompt in one process: plain, DSpark alone and the default drafter
(n-gram lookup, DSpark behind it), each drafting in one call and in steps, under the dspark policy
with the cached SPS table. Prints tok/s, x plain, tau, the drafter's propose() time per drafting
round (all rounds counted), and whether every output matched plain's token for token (greedy)."""
import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import dspark  # noqa: F401  (before torch)
import torch

from dspark.drafters import load as load_drafter
from dspark.generate import generate
from dspark.models import runtime
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from decode_speed import sample_prompts  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--prompts", type=int, default=12)
ap.add_argument("--temperature", type=float, default=0.0)
ap.add_argument("--top-p", type=float, default=1.0)
ap.add_argument("--max-new-tokens", type=int, default=128)
args = ap.parse_args()
torch.set_num_threads(2)
target = load_target("smollm2-135m")
sps = sps_for_policies("dspark", target)
one_call = runtime.DraftForward.round_args
variants = {"plain": ("none", True)}
for name in ("dspark", "default"):
    variants[f"{name}, one call"] = (name, True)
    variants[f"{name}, steps"] = (name, False)
drafters = {v: load_drafter(d, target) for v, (d, _) in variants.items()}
spent = defaultdict(float)


def timed(v, fn):
    def wrapper(seqs):
        t0 = time.perf_counter()
        try:
            return fn(seqs)
        finally:
            spent[v] += time.perf_counter() - t0
    return wrapper


for v, d in drafters.items():
    d.propose = timed(v, d.propose)
tok, sec, rounds, same = defaultdict(int), defaultdict(float), defaultdict(int), defaultdict(int)
for i, prompt in enumerate(sample_prompts(args.prompts, "gsm8k,humaneval,math500,mbpp,livecodebench")):
    ids = target.encode_prompt(prompt, None)
    outs = {}
    for v, (_, fused) in variants.items():
        runtime.DraftForward.round_args = one_call if fused else (lambda self, drafter: None)
        params = SamplingParams(temperature=args.temperature, top_p=args.top_p, seed=i)
        r = generate(target, drafters[v], ids, params, args.max_new_tokens, policy="fixed" if v == "plain" else "dspark",
                     sps_table=sps)
        tok[v] += r["num_new_tokens"]
        sec[v] += r["elapsed_s"]
        rounds[v] += r["rounds"]
        outs[v] = r["token_ids"]
    for v in variants:
        same[v] += outs[v] == outs["plain"]
    print(f"prompt {i + 1}/{args.prompts}", flush=True)
runtime.DraftForward.round_args = one_call
print(f"\nbatch 1, T {args.temperature}, top-p {args.top_p}, {args.prompts} prompts x {args.max_new_tokens} tokens\n")
print("| variant | tok/s | x plain | tokens per round | propose ms per round | identical to plain |")
print("|---|---|---|---|---|---|")
base = tok["plain"] / sec["plain"]
for v in variants:
    print(f"| {v} | {tok[v] / sec[v]:.1f} | {tok[v] / sec[v] / base:.2f} | {tok[v] / rounds[v]:.2f} | "
          f"{1e3 * spent[v] / rounds[v]:.2f} | {same[v]}/{args.prompts} |")
