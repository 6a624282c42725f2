"""`dspark serve`: the OpenAI-compatible server (dspark.server) on a loaded target and drafter."""
from __future__ import annotations

import errno
import logging
import os
import socket
import sys

from ..errors import DSparkError
from .options import (add_policy_argument, add_target_arguments, add_verification_argument, load_target_and_drafter,
                      setup_torch, sps_table)

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def add_arguments(p) -> None:
    add_target_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s, local only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port, 1-65535 (default: %(default)s)")
    # Serving defaults to the hardware-aware scheduler: with many requests in flight it chooses
    # how much of each block to verify, which is where it pays (`generate` defaults to `auto`).
    add_policy_argument(p, default="dspark", auto=True)
    add_verification_argument(p)
    p.add_argument("--api-key", default=os.environ.get("DSPARK_API_KEY"),
                   help="require 'Authorization: Bearer KEY' on /v1 (default: $DSPARK_API_KEY, else none)")
    p.add_argument("--max-batch", type=int, default=8, help="concurrent sequences / KV-cache slots (default: 8)")
    p.add_argument("--max-len", type=int, default=2048,
                   help="tokens per sequence: prompt + output + one draft block (default: %(default)s)")
    p.add_argument("--prefill-chunk", type=int, default=512, help="prompt tokens per prefill forward (default: 512)")
    p.add_argument("--max-waiting", type=int, default=1024, help="queued requests before answering 429")
    p.add_argument("--sps", default=None,
                   help="SPS table JSON for the dspark policies (default: cached profile, profiled on first start)")
    p.add_argument("--model-name", default=None, help="model id the API reports (default: the target's name)")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS, help="server log level (default: %(default)s)")


def check_bind(host: str, port: int) -> None:
    """Fail in one line, before the model loads, when the address cannot be served."""
    if not 1 <= port <= 65535:
        raise DSparkError(f"--port {port} is not a TCP port (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise DSparkError(f"--host {host!r} does not resolve: {e.strerror}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn binds
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise DSparkError(f"port {port} on {host} is already in use (another server?); "
                                  f"choose another with --port") from None
            raise DSparkError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def run(args) -> int:
    import uvicorn

    from ..engine import EngineConfig
    from ..server import create_app
    if args.max_batch < 1 or args.max_len < 16 or args.prefill_chunk < 1 or args.max_waiting < 1:
        raise DSparkError("--max-batch, --prefill-chunk and --max-waiting must be >= 1 and --max-len >= 16")
    if args.sps and not os.path.isfile(args.sps):
        raise DSparkError(f"--sps {args.sps}: no such file")
    check_bind(args.host, args.port)
    setup_torch(args)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()))
    target, drafter = load_target_and_drafter(args)
    max_len = min(args.max_len, target.config.max_position_embeddings)
    cfg = EngineConfig(max_batch=args.max_batch, max_len=max_len, prefill_chunk=args.prefill_chunk,
                       policy=args.policy, verification=args.verification)
    app = create_app(target, drafter, cfg, sps_table=sps_table(args, target, args.policy), api_key=args.api_key,
                     model_name=args.model_name, max_waiting=args.max_waiting)
    print(f"dspark serve: {target.name} with drafter {getattr(drafter, 'algorithm', 'none')}, policy {args.policy}, "
          f"{args.max_batch} slots x {max_len} tokens on http://{args.host}:{args.port}/v1"
          + (" (API key required)" if args.api_key else ""), file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
