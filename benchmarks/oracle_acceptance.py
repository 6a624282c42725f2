"""What draft acceptance speculation needs on this machine, measured in the engine (a script, not a
test).

An oracle drafter runs a real drafter's round every time (so drafting costs what it costs),
then replaces the drafts with the target's own greedy continuation, each slot kept with probability
`a` independently (else a token the target did not pick): conditional acceptance a at every slot, as
a drafter with that acceptance would have. The fixed policy verifies k drafts per request a round.
Every variant runs the same prompts through the same engine at concurrency c (c requests at once),
interleaved prompt group by prompt group, against plain decoding (`none`) and the real drafter
(its whole block, the dspark policy, and its drafts cut to k under the fixed policy: where it sits
on the oracle's scale). Ratios include the prompts' prefill; "after the prefill" subtracts plain's
time to each group's first token. Outputs should equal plain greedy's (the oracle cannot change
what the target accepts); the script counts those that do not (the fp32 near-ties of MODELS.md on
a device whose kernels are not batch-invariant).

    python benchmarks/oracle_acceptance.py [--target smollm2-135m] [--drafter dspark]
        [--concurrency 1,2,4] [--prompts 16] [--accept 0.6,0.7,0.8,0.9,1.0] [--widths 2,3,5,7]
        [--real-widths 2,3,5] [--out rows.json]

RESULTS.md, session 57: on 2 Zen 4 cores 1.5x at batch 1 needed a of 0.7-0.8, and concurrency 4
stayed under 1.35x even at a = 1.
"""
import argparse
import itertools
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_speed import sample_prompts  # noqa: E402

from dspark.drafters import load as load_drafter  # noqa: E402
from dspark.drafters.base import Drafter, Proposal  # noqa: E402
from dspark.engine import make_engine  # noqa: E402
from dspark.models.loader import load_target  # noqa: E402
from dspark.profile import sps_for_policies  # noqa: E402
from dspark.sampling import SamplingParams  # noqa: E402


class Oracle(Drafter):
    algorithm = "oracle"

    def __init__(self, inner, refs: dict, accept: float | None, width: int, vocab: int, seed: int = 0):
        self.inner, self.refs, self.accept, self.width, self.vocab = inner, refs, accept, width, vocab
        self.gamma, self.tap_layers = inner.gamma, inner.tap_layers
        self.reads_hidden, self.observes_positions = inner.reads_hidden, inner.observes_positions
        self.rng = random.Random(seed)
        self.real: dict[int, Proposal] = {}

    def start(self, seq):
        self.inner.start(seq)

    def observe(self, seq, taps, hidden):
        self.inner.observe(seq, taps, hidden)

    def finish(self, seq):
        self.inner.finish(seq)
        self.real.pop(seq.id, None)

    def propose(self, seqs):
        out = []
        for seq, real in zip(seqs, self.inner.propose(seqs)):     # the real round: its cost
            self.real[seq.id] = real
            if self.accept is None:                 # the real drafts, cut to the width
                out.append(real.truncated(self.width))
                continue
            ref = self.refs[tuple(seq.tokens[:seq.prompt_len])]
            done = len(seq.tokens) - seq.prompt_len
            truth = (ref[done:done + self.width] + [0] * self.width)[:self.width]
            out.append(Proposal([t if self.rng.random() < self.accept else (t + 1) % self.vocab for t in truth],
                                source="oracle"))
        return out

    def verified(self, seq, proposal, record):
        self.inner.verified(seq, self.real.pop(seq.id, Proposal([])).truncated(record.proposed), record)


def run_group(target, drafter, prompts, c, policy, sps, max_new):
    eng = make_engine(target, drafter, tokens=max(len(p) for p in prompts) + max_new, max_batch=c,
                      policy=policy, sps_table=sps)
    seqs = [eng.add_request(p, SamplingParams(), max_new) for p in prompts]
    t0 = time.perf_counter()
    eng.run_until_done()
    wall = time.perf_counter() - t0
    return wall, [s.output_ids for s in seqs], eng.stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--drafter", default="dspark", help="a drafter spec or directory (dspark.drafters.load)")
    ap.add_argument("--concurrency", default="1,2,4", help="repeat a value to repeat its run")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--accept", default="0.6,0.7,0.8,0.9,1.0")
    ap.add_argument("--widths", default="2,3,5,7")
    ap.add_argument("--real-widths", default="2,3,5", help="the real drafts, cut to these widths (fixed policy)")
    ap.add_argument("--sets", default="gsm8k,humaneval,math500,mbpp,livecodebench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    target = load_target(args.target, device=args.device)
    inner = load_drafter(args.drafter, target)
    widths = [int(x) for x in args.widths.split(",") if x] + [int(x) for x in args.real_widths.split(",") if x]
    if any(not 1 <= k <= inner.gamma for k in widths):
        raise SystemExit(f"widths must be 1..{inner.gamma}, the drafter's block")
    sps = sps_for_policies("dspark", target)
    prompts = [target.encode_prompt(p) for p in sample_prompts(args.prompts, args.sets)]
    n = args.max_new_tokens
    # the references: plain greedy continuations, a block longer than any run needs
    refs = {}
    for p in prompts:
        _, [o], _ = run_group(target, None, [p], 1, "fixed", None, n + inner.gamma + 1)
        refs[tuple(p)] = o
    variants = {"none": (None, "fixed"), "real, whole block": (inner, "fixed"), "real, dspark policy": (inner, "dspark")}
    for a, k in itertools.product([float(x) for x in args.accept.split(",") if x],
                                 [int(x) for x in args.widths.split(",") if x]):
        variants[f"oracle a={a:g} k={k}"] = (Oracle(inner, refs, a, k, target.config.vocab_size), "fixed")
    for k in [int(x) for x in args.real_widths.split(",") if x]:
        variants[f"real, cut to {k}"] = (Oracle(inner, refs, None, k, target.config.vocab_size), "fixed")
    rows = {}
    for rep, c in enumerate(int(x) for x in args.concurrency.split(",")):
        wall, toks, rounds, drafts, committed, differ = defaultdict(float), *(defaultdict(int) for _ in range(5))
        groups = [prompts[i:i + c] for i in range(0, len(prompts), c)]
        names = list(variants)
        prefill = 0.0          # plain's time to the first token of each group: what every variant shares
        for gi, group in enumerate(groups):
            prefill += run_group(target, None, group, c, "fixed", None, 1)[0]
            order = names[gi % len(names):] + names[:gi % len(names)]     # rotate: spread the drift
            for name in order:
                drafter, policy = variants[name]
                w, outs, st = run_group(target, drafter, group, c, policy, sps, n)
                differ[name] += sum(o != refs[tuple(p)][:len(o)] for p, o in zip(group, outs))
                wall[name] += w
                toks[name] += sum(len(o) for o in outs)
                rounds[name] += st.request_rounds
                drafts[name] += st.drafted
                committed[name] += st.committed
        base = toks["none"] / wall["none"]
        def after_prefill(name):   # tok/s past each group's first token; plain's prefill, timed apart,
            spent = wall[name] - prefill   # can exceed a short run's whole wall time: no rate then
            return (toks[name] - len(prompts)) / spent if spent > 0 else float("nan")
        base_after = after_prefill("none")
        print(f"\n== concurrency {c}: none {base:.1f} tok/s ({len(prompts)} prompts, {n} tokens)")
        for name in names:
            r = toks[name] / wall[name]
            tau = committed[name] / rounds[name] if rounds[name] else 0.0
            dr = drafts[name] / rounds[name] if rounds[name] else 0.0
            after = after_prefill(name) / base_after
            key = f"c{c} {name}"
            rows[key + (f" #{rep}" if key in rows else "")] = {
                "tok_s": r, "ratio": r / base, "ratio_after_prefill": after, "tokens_per_round": tau,
                "drafts_per_round": dr, "differ_from_plain": differ[name]}
            print(f"  {name:22s} {r:7.1f} tok/s  {r / base:5.2f}x  ({after:4.2f}x after the prefill)  "
                  f"tokens/round {tau:.2f}  drafts/round {dr:.2f}"
                  + (f"  ({differ[name]} outputs differ from plain greedy)" if differ[name] else ""))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
