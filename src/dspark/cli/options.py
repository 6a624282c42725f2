"""Options every command shares (target, drafter, device, sampling, policy, threads) and the one way
a command turns them into a loaded target and drafter. Used by `dspark` and `deepspec` commands."""
from __future__ import annotations

import argparse

from ..errors import DSparkError

NAMED_TARGETS = "smollm2-135m, gemma3-270m"


def add_target_arguments(p: argparse.ArgumentParser, drafter_default: str | None = "default") -> None:
    p.add_argument("--target", default="smollm2-135m",
                   help=f"named default ({NAMED_TARGETS}) or a model directory (default: %(default)s)")
    if drafter_default is not None:   # None: the command declares its own --drafter
        p.add_argument("--drafter", default=drafter_default,
                       help="default (the fastest at batch 1 on CPU for the target, see README: for SmolLM2 "
                            "ngram+dspark, n-gram lookup elsewhere), none, ngram, dspark / mtp (the committed "
                            "drafter for the target), ngram+ before one of those (lookup first), or a drafter "
                            "checkpoint directory (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, mps (default: %(default)s)")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16 (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice, the cores)")
    add_precision_argument(p)


def add_precision_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=["fast", "exact"], default=None,
                   help="CPU arithmetic of a packed (GGUF) target: fast = 8-bit activations as llama.cpp "
                        "computes, batch invariant; exact = fp32 activations as transformers computes "
                        "(default: $DSPARK_PRECISION, else fast)")


def add_sampling_arguments(p: argparse.ArgumentParser, temperature: float = 0.0, top_p: float = 1.0,
                           top_k: int = 0) -> None:
    p.add_argument("--temperature", type=float, default=temperature, help="0 = greedy (default: %(default)s)")
    p.add_argument("--top-p", type=float, default=top_p, help="nucleus sampling mass, 1 = off (default: %(default)s)")
    p.add_argument("--top-k", type=int, default=top_k, help="keep the k most likely tokens, 0 = off (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")


def add_verification_argument(p: argparse.ArgumentParser) -> None:
    from ..verify import RULES
    p.add_argument("--verification", default="block", choices=RULES,
                   help="how sampled drafts are judged (greedy decoding is the same under both): block "
                        "keeps the longest prefix the target backs as a whole, never fewer tokens on "
                        "average; token is the classic left-to-right rule (default: %(default)s; see verify.py)")


# `deepspec eval` measures acceptance over the whole block (`fixed`, nothing to profile); `generate`
# picks per drafter (`auto`: the hardware-aware policy for any drafter, which profiles the machine
# once, see `dspark profile`); `serve` schedules a batch (`dspark`).
DEFAULT_POLICY = "fixed"


def add_policy_argument(p: argparse.ArgumentParser, default: str = DEFAULT_POLICY, auto: bool = False) -> None:
    """auto: also offer `auto`, which the command resolves per drafter (schedule.resolve_policy)."""
    from ..schedule import policy_names
    choices = policy_names(auto)
    p.add_argument("--policy", default=default, choices=choices, metavar="POLICY",
                   help=f"verification policy: {', '.join(choices)} (default: %(default)s; "
                        f"see schedule.py)")


def positive_int_list(s: str, name: str) -> list[int]:
    try:
        xs = [int(x) for x in str(s).split(",") if x.strip()]
    except ValueError:
        raise DSparkError(f"{name} must be comma-separated integers, got {s!r}") from None
    if not xs or any(x < 1 for x in xs):
        raise DSparkError(f"{name} must hold positive integers")
    return xs


def setup_torch(args) -> None:
    """Every command calls this before it loads a model."""
    import os

    import torch
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)   # the runtime's own pool follows torch's setting
    if getattr(args, "precision", None):
        # every target this process loads (load_target's default reads it)
        os.environ["DSPARK_PRECISION"] = args.precision


def load_target_and_drafter(args, tokenizer: bool = True):
    """The target and drafter the arguments name; a --policy of `auto` becomes the policy it
    means for that drafter (before the command asks which SPS table it needs)."""
    from ..drafters import load as load_drafter
    from ..models.loader import load_target
    from ..schedule import resolve_policy
    target = load_target(args.target, device=args.device, dtype=args.dtype, tokenizer=tokenizer)
    drafter = load_drafter(args.drafter, target)
    if getattr(args, "policy", None):
        args.policy = resolve_policy(args.policy, drafter)
    return target, drafter


def sps_table(args, target, policies):
    """The SPS table the chosen policies need (None when none reads one), saying so when it must
    first be measured: profiling takes a while the first time on a machine."""
    from ..profile import sps_for_policies
    return sps_for_policies(policies, target, args.device, args.dtype, getattr(args, "sps", None))
