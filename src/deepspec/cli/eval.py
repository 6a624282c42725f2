"""`deepspec eval`: speculative decoding on benchmark prompts (tau, acceptance per position,
calibration), through the engine serving runs; see deepspec/eval/evaluate.py for what it writes."""
from __future__ import annotations

from pathlib import Path

from dspark.cli.options import (add_policy_argument, add_sampling_arguments, add_target_arguments,
                                add_verification_argument, setup_torch)
from dspark.errors import DSparkError

from ..eval.evaluate import drafter_name, evaluate, load_eval_prompts


def add_arguments(p) -> None:
    add_target_arguments(p, drafter_default=None)
    p.add_argument("--drafter", action="append", dest="drafters", default=None,
                   help="drafter: default, none, ngram, dspark / mtp (committed) or a checkpoint directory; "
                        "repeat to compare several (default: default)")
    p.add_argument("--data", action="append", required=True, help="benchmark JSONL ({'turns': [...]}); repeatable")
    add_sampling_arguments(p)
    add_verification_argument(p)
    p.add_argument("--max-new-tokens", type=int, default=256, help="new tokens per prompt (default: %(default)s)")
    p.add_argument("--max-samples", type=int, default=None,
                   help="prompts per dataset, after a seeded shuffle (default: all)")
    p.add_argument("--batch", type=int, default=1, help="requests decoded together (1 = batch-1 speed)")
    add_policy_argument(p)
    p.add_argument("--out", required=True, help="results directory (results.json, results.md, rounds/, plots)")


def run(args) -> int:
    from dspark.drafters import load as load_drafter
    from dspark.models.loader import load_target
    specs = args.drafters or ["default"]
    names = [drafter_name(s) for s in specs]
    if len(set(names)) != len(names):
        raise DSparkError(f"two --drafter arguments have the same label ({', '.join(names)}); "
                          f"give the drafters distinct directory names")
    datasets = {Path(d).stem: load_eval_prompts(Path(d), args.max_samples, args.seed) for d in args.data}
    setup_torch(args)
    target = load_target(args.target, device=args.device, dtype=args.dtype)
    drafters = {name: load_drafter(s, target) for name, s in zip(names, specs)}
    evaluate(target, drafters, datasets, args.temperature, args.max_new_tokens, args.seed,
             Path(args.out), args.batch, args.policy, args.top_p, args.top_k, args.verification)
    print((Path(args.out) / "results.md").read_text())
    return 0
