"""Where a served decode step goes at concurrency C (a script, not a test).

Runs the same ShareGPT requests through one engine per variant, closed loop at concurrency C
(`dspark bench`'s in-process loop), variants interleaved per repeat:

  none      plain decoding, no drafter (the baseline `dspark bench` uses)
  dspark    the drafter under the dspark policy
  none+d    plain decoding with the drafter attached: the target returns its taps and the drafter
            observes every committed row, but never drafts (what attaching a drafter costs alone)

and splits each engine's time into prefill and decode forwards, the drafter's propose and observe,
verification, and the rest, per decode step. With the drafter it also counts the request-rounds
that drafted and the drafts verified and accepted.

    python benchmarks/serving_phases.py [--concurrency 4] [--requests 24] [--repeats 2] [--drafter dspark]
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter, defaultdict

import dspark  # noqa: F401  (before torch: sets GOMP_SPINCOUNT, see dspark/__init__.py)
import dspark.engine as engine_module
from dspark.bench import load_sharegpt, run_engine_level
from dspark.drafters import load as load_drafter
from dspark.drafters.base import Drafter
from dspark.engine import make_engine
from dspark.models.loader import load_target
from dspark.profile import sps_table_for
from dspark.sampling import SamplingParams
from dspark.verify import verify


def run(target, drafter, policy: str, requests, concurrency: int, sps) -> dict:
    spent: dict[str, float] = defaultdict(float)
    counts: Counter = Counter()
    engine = make_engine(target, drafter, tokens=1024, max_batch=concurrency, policy=policy, sps_table=sps)
    forward = engine.model

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapper

    class TimedModel:
        """The target model, its forwards timed as decode or prefill; every attribute passes through
        (the engine reads the model's device, config and runtime)."""
        def __call__(self, batch, *args, **kwargs):
            decode = len(batch.counts) == len(engine.running) and max(batch.counts) <= drafter.gamma + 1
            kind = "decode" if decode else "prefill"
            counts[kind] += 1
            counts[kind + " tokens"] += sum(batch.counts)
            return timed("forward " + kind, forward)(batch, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(forward, name)

    def counted_propose(seqs, inner=drafter.propose):
        counts["drafted request-rounds"] += len(seqs)
        return inner(seqs)

    engine.model = TimedModel()
    engine_module.verify = timed("verify", verify)
    if drafter.gamma:
        drafter.propose = timed("propose", counted_propose)
        drafter.observe = timed("observe", drafter.observe)
    try:
        engine.add_request(requests[0].prompt_ids, SamplingParams(), 4)     # warm-up
        engine.run_until_done()
        spent.clear()
        counts.clear()
        t0 = time.perf_counter()
        done, _ = run_engine_level(engine, requests, concurrency, SamplingParams(), num_requests=len(requests))
        wall = time.perf_counter() - t0
    finally:
        engine_module.verify = verify
        drafter.__dict__.pop("propose", None)
        drafter.__dict__.pop("observe", None)
    steps = max(counts["decode"], 1)
    return {"tok/s": sum(r.output_tokens for r in done) / wall, "wall": wall, "steps": steps,
            "tokens/step": counts["decode tokens"] / steps,
            "ms/step": {k: 1e3 * v / steps for k, v in sorted(spent.items())},
            "other ms/step": 1e3 * (wall - sum(spent.values())) / steps,
            "drafted request-rounds": counts["drafted request-rounds"], "request-rounds": engine.stats.request_rounds,
            "verified": engine.stats.drafted, "accepted": engine.stats.accepted}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--drafter", default="dspark")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    target = load_target(args.target)
    drafter = load_drafter(args.drafter, target)
    sps = sps_table_for(target)
    requests = load_sharegpt(lambda t: target.encode_prompt(t, None), target.tokenizer, args.requests, 512,
                             args.max_tokens)
    variants = (("none", "none", Drafter()), ("dspark", "dspark", drafter), ("none+d", "none", drafter))
    speed = defaultdict(list)
    for rep in range(args.repeats):
        for name, policy, d in variants:
            r = run(target, d, policy, requests, args.concurrency, sps)
            speed[name].append(r["tok/s"])
            phases = " ".join(f"{k} {v:.2f}" for k, v in r["ms/step"].items())
            print(f"repeat {rep} {name:7s} {r['tok/s']:6.1f} tok/s, {r['steps']} decode steps of "
                  f"{r['tokens/step']:.2f} tokens; ms per decode step: {phases}, other {r['other ms/step']:.2f}")
            if d.gamma and policy != "none":
                print(f"    drafted {r['drafted request-rounds']} of {r['request-rounds']} request-rounds; "
                      f"{r['verified']} drafts verified, {r['accepted']} accepted")
    base = statistics.median(speed["none"])
    for name, values in speed.items():
        median = statistics.median(values)
        print(f"{name:7s} median {median:6.1f} tok/s ({median / base:.2f}x none), "
              f"runs {', '.join(f'{v:.1f}' for v in values)}")


if __name__ == "__main__":
    main()
