"""Session 38 A/B: the SPS policy before and after this session's changes, interleaved in one process.

old: the profiled table used as written, each drafting judgment on its own round, the first drafting
     call (the prompt's catch-up) judged like any other, several requests drafting in one batched
     round in steps (the code at 53b21bb);
new: the table corrected online by the engine's measured steps (schedule.OnlineSPS), judgments summed
     with WORTH_DECAY, a request's first drafts (its prompt's catch-up) not judged, up to
     DFlashDrafter.ROUNDS_PER_REQUEST requests drafting one C round each.
Closed loops as `dspark bench` runs them (sharegpt chat prompts, 96 tokens, greedy), per concurrency,
the variants alternated repeat by repeat; prints throughput against `none`.

    python docs/results/session38/ab_policy.py [--levels 1,2,4] [--repeats 2] [--duration 20]
"""
import argparse
import statistics
import sys

import dspark  # noqa: F401
import torch

from dspark.bench import load_sharegpt
from dspark.bench.runner import run_engine_level, summarize
from dspark.drafters import load as load_drafter
from dspark.drafters.base import Drafter
from dspark.engine import make_engine
from dspark.models.loader import load_target
from dspark.profile import sps_for_policies
from dspark.sampling import SamplingParams
from dspark.schedule import DSparkPolicy, SPSTable
from dspark.stats import RoundTotals


class Old(DSparkPolicy):
    SKIP_FIRST = False
    WORTH_DECAY = 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="1,2,4")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--drafter", default="default")
    args = ap.parse_args()
    torch.set_num_threads(2)
    target = load_target("smollm2-135m")
    profiled = sps_for_policies("dspark", target)
    as_written = SPSTable(profiled.tokens, profiled.steps_per_second, None, profiled.one_sequence)
    drafter = load_drafter(args.drafter, target)
    reqs = load_sharegpt(target.encode_prompt, target.tokenizer, 200, 1024, 96, 0)
    need = max(len(r.prompt_ids) + r.max_tokens for r in reqs)
    variants = {"none": None, "old": lambda: Old(drafter.gamma, as_written),
                "new": lambda: DSparkPolicy(drafter.gamma, profiled)}
    levels = [int(x) for x in args.levels.split(",")]
    rows: dict = {}
    inner = getattr(drafter, "drafter", drafter)          # LookupFirst's trained drafter
    per_request = inner.ROUNDS_PER_REQUEST
    for rep in range(args.repeats):
        for c in levels:
            for name, make in variants.items():
                inner.ROUNDS_PER_REQUEST = 1 if name == "old" else per_request
                engine = make_engine(target, Drafter() if make is None else drafter, tokens=need, max_batch=c,
                                     policy="none" if make is None else "dspark", policy_obj=make and make())
                engine.add_request(reqs[0].prompt_ids, SamplingParams(), 4)
                engine.run_until_done()
                engine.stats = RoundTotals()
                results, wall = run_engine_level(engine, reqs, c, SamplingParams(), args.duration, None)
                row = summarize(name, c, results, wall, engine.stats)
                rows.setdefault((c, name), []).append(row)
                print(f"repeat {rep} c={c} {name}: {row['throughput_tok_s']:.1f} tok/s, tau {row['tau']:.2f}",
                      file=sys.stderr, flush=True)
    print("| c | variant | tok/s (runs) | x none | per user x none | tau |")
    print("|---|---|---|---|---|---|")
    for c in levels:
        base = statistics.fmean(r["throughput_tok_s"] for r in rows[(c, "none")])
        user = statistics.fmean(r["per_user_tps_mean"] for r in rows[(c, "none")])
        for name in variants:
            thr = [r["throughput_tok_s"] for r in rows[(c, name)]]
            print(f"| {c} | {name} | {statistics.fmean(thr):.1f} ({', '.join(f'{t:.0f}' for t in thr)}) | "
                  f"{statistics.fmean(thr) / base:.2f} | "
                  f"{statistics.fmean(r['per_user_tps_mean'] for r in rows[(c, name)]) / user:.2f} | "
                  f"{statistics.fmean(r['tau'] for r in rows[(c, name)]):.2f} |")


if __name__ == "__main__":
    main()
