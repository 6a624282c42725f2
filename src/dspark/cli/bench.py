"""`dspark bench`: throughput against per-user speed over a sweep of concurrency levels, in process
(one engine per policy) or against a running server (--url); see dspark/bench/. Writes bench.csv,
throughput_vs_user_tps.png (paper Fig. 7) and verify_budget_vs_concurrency.png (Fig. 8), and prints a
table with ratios against the baseline policy."""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

from ..bench import bench_engine, bench_url, format_table, load_jsonl, load_sharegpt, write_outputs
from ..errors import DSparkError
from ..sampling import SamplingParams
from ..schedule import POLICIES, check_policy
from ..sharegpt import sharegpt_path
from .options import (add_sampling_arguments, add_target_arguments, add_verification_argument,
                      load_target_and_drafter, positive_int_list, setup_torch, sps_table)


def add_arguments(p) -> None:
    add_target_arguments(p)
    add_sampling_arguments(p)
    add_verification_argument(p)
    p.add_argument("--url", default=None,
                   help="benchmark a running server (e.g. http://127.0.0.1:8000) instead of in-process engines")
    p.add_argument("--api-key", default=None, help="bearer key for --url")
    p.add_argument("--policies", default="none,mtp1,dspark",
                   help=f"in-process: comma-separated verification policies, one engine each, from "
                        f"{', '.join(POLICIES)} (default: %(default)s)")
    p.add_argument("--baseline", default=None, help="policy the ratios are taken against (default: the first)")
    p.add_argument("--concurrency", default="1,2,4,8,16,32", help="concurrency levels (default: %(default)s)")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per level during which new requests start (default: 60 unless --num-requests)")
    p.add_argument("--num-requests", type=int, default=None, help="requests per level")
    p.add_argument("--dataset", default="sharegpt", help="sharegpt (default) or a JSONL file of {\"turns\": [...]}")
    p.add_argument("--num-prompts", type=int, default=200, help="prompts drawn from the dataset")
    p.add_argument("--max-tokens", type=int, default=128, help="cap on each request's output length")
    p.add_argument("--max-prompt-tokens", type=int, default=512, help="skip longer prompts")
    p.add_argument("--max-len", type=int, default=None, help="in-process KV length per sequence (default: fitted)")
    p.add_argument("--sps", default=None, help="SPS table for the dspark policies (default: cached profile)")
    p.add_argument("--no-chat", action="store_true", help="plain-text prompts (/v1/completions) instead of chat")
    p.add_argument("--output-dir", default="bench-results", help="where bench.csv and the plots go")
    p.add_argument("--label", default="server", help="--url: the name of the curve")


def run(args) -> int:
    levels = positive_int_list(args.concurrency, "--concurrency")
    duration = args.duration if args.duration is not None else (None if args.num_requests else 60.0)
    if args.max_tokens < 1 or args.num_prompts < 1:
        raise DSparkError("--max-tokens and --num-prompts must be >= 1")
    params = SamplingParams(args.temperature, args.top_p, args.top_k, args.seed)
    chat = not args.no_chat
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    for p in policies or [""]:
        check_policy(p)
    if args.dataset != "sharegpt" and not Path(args.dataset).is_file():
        raise DSparkError(f"--dataset {args.dataset}: no such file (or 'sharegpt')")
    if args.dataset == "sharegpt":
        sharegpt_path()                 # says how to get it, before anything loads
    setup_torch(args)
    if args.url:
        from transformers import AutoTokenizer

        from ..models.loader import resolve_target_dir
        _, path = resolve_target_dir(args.target)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        target, curve = None, args.label

        def encode(text):
            if chat and getattr(tokenizer, "chat_template", None):
                ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                    tokenize=True)
                return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
            return tokenizer(text)["input_ids"]
    else:
        target, drafter = load_target_and_drafter(args)
        tokenizer = target.tokenizer
        curve = getattr(drafter, "algorithm", "none")

        def encode(text):
            return target.encode_prompt(text, None if chat else False)
    if args.dataset == "sharegpt":
        requests = load_sharegpt(encode, tokenizer, args.num_prompts, args.max_prompt_tokens, args.max_tokens,
                                 args.seed)
    else:
        requests = load_jsonl(args.dataset, encode, args.num_prompts, args.max_prompt_tokens, args.max_tokens,
                              args.seed)
    mean_out = statistics.fmean(r.max_tokens for r in requests)
    bound = f"{duration:.0f} s" if duration else f"{args.num_requests} requests"
    print(f"{len(requests)} prompts from {args.dataset}; mean output {mean_out:.0f} tokens; levels {levels}; "
          f"{bound} per level", file=sys.stderr)
    if args.url:
        rows = bench_url(args.url, requests, levels, params, duration, args.num_requests, args.api_key, chat,
                         args.label)
        baseline = None
    else:
        rows = bench_engine(target, drafter, requests, policies, levels, params, duration, args.num_requests,
                            sps_table=sps_table(args, target, policies), max_len=args.max_len,
                            verification=args.verification)
        baseline = args.baseline or policies[0]
    title = f"{args.target} / {curve}"
    paths = write_outputs(rows, args.output_dir, baseline, title)
    print(format_table(rows, baseline))
    print(f"\nwrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    return 0
