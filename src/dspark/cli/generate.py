"""`dspark generate`: one prompt, streamed, with a speed and acceptance summary."""
from __future__ import annotations

import json
import sys

from .options import (add_policy_argument, add_sampling_arguments, add_target_arguments, add_verification_argument,
                      load_target_and_drafter, setup_torch, sps_table)

DEFAULT_PROMPT = "Write a Python function that checks whether a string is a palindrome, and explain it briefly."


def add_arguments(p) -> None:
    p.add_argument("prompt", nargs="?", default=None, help="user message (default: a short coding request)")
    add_target_arguments(p)
    add_sampling_arguments(p)
    add_verification_argument(p)
    p.add_argument("--max-tokens", type=int, default=256, help="most new tokens (default: %(default)s)")
    add_policy_argument(p, default="auto", auto=True)
    p.add_argument("--no-chat", action="store_true", help="send the prompt as plain text, no chat template")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")


def _fmt(x, spec=".2f") -> str:
    return "-" if x is None else format(x, spec)


def run(args) -> int:
    from ..errors import DSparkError, require_text
    from ..generate import generate
    from ..sampling import SamplingParams
    prompt = args.prompt if args.prompt is not None else DEFAULT_PROMPT
    require_text(prompt)                       # before loading anything
    if args.max_tokens < 1:
        raise DSparkError("--max-tokens must be at least 1")
    params = SamplingParams(args.temperature, args.top_p, args.top_k, args.seed)
    setup_torch(args)
    target, drafter = load_target_and_drafter(args)
    chat = False if args.no_chat else None
    on_text = None if args.json else (lambda t: print(t, end="", flush=True))
    result = generate(target, drafter, prompt, params, args.max_tokens, policy=args.policy, chat=chat,
                      on_text=on_text, sps_table=sps_table(args, target, args.policy),
                      verification=args.verification)
    if args.json:
        print(json.dumps(result))
        return 0
    acc = " ".join(_fmt(a) for a in result["accept_rate"]) or "-"
    print(f"\n\n[{result['num_new_tokens']} tokens in {result['elapsed_s']:.2f} s = "
          f"{result['tokens_per_second']:.1f} tok/s | target {result['target']}, drafter {result['drafter']}, "
          f"policy {result['policy']} | rounds {result['rounds']}, tau {_fmt(result['tau'])} | "
          f"acceptance per position: {acc}]", file=sys.stderr)
    return 0
