"""`deepspec regenerate`: answers to the training prompts, written by the target itself (local engine
or an OpenAI-compatible endpoint); resumable."""
from __future__ import annotations

import json
import signal
from pathlib import Path

from dspark.cli.options import add_sampling_arguments, add_target_arguments, load_target_and_drafter, setup_torch

from ..data.prompts import load_prompts
from ..data.regenerate import EndpointBackend, EngineBackend, RegenSettings, open_sink, regenerate


def add_arguments(p) -> None:
    p.add_argument("--prompts", required=True, help="prompt file (JSONL turns/conversations or ShareGPT)")
    p.add_argument("--out", required=True,
                   help="output: a .jsonl file (appended to), or a directory of gzip'd JSONL shards with a manifest "
                        "for data at scale (commit it as it grows); either resumes")
    p.add_argument("--shard-size", type=int, default=1000,
                   help="conversations per closed shard of a shard directory (default: %(default)s)")
    # no drafter by default: at batch 32 with sampling, n-gram drafts halve the answer tokens/s
    # (benchmarks/regen_speed.py: 162 vs 342 tok/s); the batch already keeps the cores busy
    add_target_arguments(p, drafter_default="none")
    p.add_argument("--url", default=None, help="OpenAI-compatible endpoint instead of the local engine")
    p.add_argument("--model", default=None, help="model name at the endpoint (default: --target)")
    p.add_argument("--api-key", default=None, help="bearer key for --url")
    p.add_argument("--concurrency", type=int, default=16, help="endpoint requests in flight")
    p.add_argument("--max-batch", type=int, default=32, help="local engine: conversations per batch")
    p.add_argument("--limit", type=int, default=None, help="stop once this many conversations are written")
    # the reference recipe's sampling (RegenSettings)
    add_sampling_arguments(p, temperature=0.7, top_p=0.8, top_k=20)
    p.add_argument("--max-new-tokens", type=int, default=512, help="most tokens per answer (default: %(default)s)")


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    settings = RegenSettings(args.temperature, args.top_p, args.top_k, args.max_new_tokens, args.seed)
    records = load_prompts(args.prompts)
    if args.url:
        backend = EndpointBackend(args.url, args.model or args.target, settings, args.concurrency, args.api_key)
    else:
        setup_torch(args)
        target, drafter = load_target_and_drafter(args)
        backend = EngineBackend(target, drafter, args.max_batch, settings)
    out = Path(args.out)
    sink = open_sink(out, backend, settings, args.shard_size)
    # `kill` (SIGTERM) and `kill -INT` end the run like Ctrl-C: regenerate() then seals what was
    # written. SIGINT is set too because a shell starts background jobs with it ignored, and Python
    # then never turns it into KeyboardInterrupt
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    errors = out.with_name(out.name + ".errors.jsonl")
    stats = regenerate(records, sink, backend, args.limit, errors)
    print(json.dumps(stats))
    return 0
