"""Soak test for `dspark serve`: many concurrent streaming clients for minutes; memory must stay flat
and no request may be lost.

    python benchmarks/soak.py                        # in-process server, SmolLM2, 64 clients, 120 s
    python benchmarks/soak.py --target tiny          # random tiny model with the SmolLM2 tokenizer
    python benchmarks/soak.py --url http://127.0.0.1:8000 --api-key KEY

Each client loops: a streaming chat request with a random output length; a fraction of the requests
disconnect deliberately after a few chunks (they must free their slot, not leak). Printed at the
end: requests, completed, deliberately aborted, errors (HTTP status, error chunk, exception), LOST
requests (stream ended without [DONE] and not aborted by us), the server's RSS (from /metrics) at
start, after warm-up, at the end and at its peak, and whether the server drained to idle.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import threading
import time

import httpx

PROMPTS = [
    "Write a Python function that checks whether a string is a palindrome.",
    "Explain the difference between a list and a tuple in Python.",
    "Give me three tips for writing clear emails.",
    "What is the capital of France? Answer in one sentence.",
    "Summarize the plot of Romeo and Juliet in two sentences.",
    "List five fruits and their colours.",
    "How do I reverse a linked list? Show code.",
    "Write a haiku about autumn.",
]


def start_in_process(args):
    """Load the target, build the app and run uvicorn in a thread; returns (url, server, thread)."""
    import torch
    import uvicorn

    from dspark.drafters import NgramDrafter
    from dspark.drafters import load as load_drafter
    from dspark.engine import EngineConfig
    from dspark.server import create_app
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.target == "tiny":
        from transformers import AutoTokenizer

        from dspark.models.config import ModelConfig
        from dspark.models.decoder import TargetModel
        from dspark.models.loader import Target, pull
        path = pull("smollm2-135m")
        cfg = ModelConfig(arch="llama", vocab_size=49152, hidden_size=32, intermediate_size=64, num_layers=2,
                          num_heads=4, num_kv_heads=2, head_dim=8, eos_token_ids=[2])
        torch.manual_seed(0)
        target = Target("tiny", path, TargetModel(cfg).eval(), AutoTokenizer.from_pretrained(str(path)))
        drafter = NgramDrafter(gamma=4)
        sps = None
    else:
        from dspark.models.loader import load_target
        target = load_target(args.target)
        drafter = load_drafter(args.drafter, target)
        sps = None
        if args.policy.startswith("dspark"):
            from dspark.schedule import SPSTable
            if args.sps == "flat":
                sps = SPSTable.flat()
            elif args.sps:
                sps = SPSTable.load(args.sps)
            else:
                from dspark.profile import sps_table_for
                sps = sps_table_for(target)
    cfg = EngineConfig(max_batch=args.max_batch, max_len=args.max_len, policy=args.policy)
    app = create_app(target, drafter, cfg, sps_table=sps, api_key=args.api_key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("server failed to start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


async def scrape(http, url) -> dict[str, float]:
    try:
        r = await http.get(url + "/metrics")
    except httpx.HTTPError:
        return {}
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            key = name.split("{", 1)[0]
            if 'reason="' in name:
                key += ":" + name.split('reason="', 1)[1].split('"', 1)[0]
            out[key] = out.get(key, 0.0) + float(value)
    return out


async def soak(url: str, args) -> dict:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    stats = {"started": 0, "completed": 0, "aborted": 0, "errors": 0, "lost": 0, "chunks": 0,
             "completion_tokens": 0, "error_samples": []}
    rss: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    stop_at = t0 + args.duration

    async with httpx.AsyncClient(timeout=httpx.Timeout(args.request_timeout, connect=10), headers=headers,
                                 limits=httpx.Limits(max_connections=args.clients + 8)) as http:
        model = (await http.get(url + "/v1/models")).json()["data"][0]["id"]

        async def sampler():
            while time.perf_counter() < stop_at:
                m = await scrape(http, url)
                if "process_resident_memory_bytes" in m:
                    rss.append((time.perf_counter() - t0, m["process_resident_memory_bytes"]))
                await asyncio.sleep(args.sample_every)

        async def client(k: int):
            rng = random.Random(k)
            while time.perf_counter() < stop_at:
                stats["started"] += 1
                abort_after = rng.randint(1, 4) if rng.random() < args.abort_fraction else None
                body = {"model": model, "stream": True, "stream_options": {"include_usage": True},
                        "max_tokens": rng.randint(8, args.max_tokens),
                        "temperature": rng.choice([0.0, 0.7]), "seed": rng.randint(0, 10**6),
                        "messages": [{"role": "user", "content": rng.choice(PROMPTS)}]}
                try:
                    async with http.stream("POST", url + "/v1/chat/completions", json=body) as r:
                        if r.status_code != 200:
                            await r.aread()
                            stats["errors"] += 1
                            stats["error_samples"].append(f"HTTP {r.status_code}: {r.text[:120]}")
                            continue
                        done, chunks, failed = False, 0, False
                        async for line in r.aiter_lines():
                            if not line.startswith("data:"):
                                continue
                            data = line[5:].strip()
                            if data == "[DONE]":
                                done = True
                                break
                            obj = json.loads(data)
                            if "error" in obj:
                                failed = True
                                stats["error_samples"].append(str(obj["error"])[:120])
                                continue
                            if obj.get("usage"):
                                stats["completion_tokens"] += obj["usage"]["completion_tokens"]
                            if obj.get("choices") and obj["choices"][0].get("delta", {}).get("content"):
                                chunks += 1
                                stats["chunks"] += 1
                                if abort_after is not None and chunks >= abort_after:
                                    break
                        if abort_after is not None and not done:
                            stats["aborted"] += 1       # leaving the block closes the connection
                        elif failed:
                            stats["errors"] += 1
                        elif done:
                            stats["completed"] += 1
                        else:
                            stats["lost"] += 1
                except httpx.HTTPError as e:
                    stats["errors"] += 1
                    stats["error_samples"].append(repr(e)[:120])

        first = await scrape(http, url)
        if "process_resident_memory_bytes" in first:
            rss.append((0.0, first["process_resident_memory_bytes"]))
        await asyncio.gather(sampler(), *(client(k) for k in range(args.clients)))
        wall = time.perf_counter() - t0
        # the server must drain: nothing running or waiting once the clients are gone
        idle, deadline = False, time.perf_counter() + 60
        while time.perf_counter() < deadline:
            m = await scrape(http, url)
            if m.get("dspark_requests_running", 1) == 0 and m.get("dspark_requests_waiting", 1) == 0:
                idle = True
                break
            await asyncio.sleep(0.5)
        final = await scrape(http, url)
        if "process_resident_memory_bytes" in final:
            rss.append((time.perf_counter() - t0, final["process_resident_memory_bytes"]))
    stats.update(wall_s=wall, idle=idle, rss=rss, metrics=final)
    return stats


def report(stats: dict, args) -> int:
    mib = lambda b: b / 2**20  # noqa: E731
    rss = stats["rss"]
    print(f"\nsoak: {args.clients} clients for {args.duration:.0f} s (wall {stats['wall_s']:.0f} s), "
          f"abort fraction {args.abort_fraction}")
    print(f"  requests started   {stats['started']}")
    print(f"  completed          {stats['completed']}")
    print(f"  aborted by client  {stats['aborted']}")
    print(f"  errors             {stats['errors']}")
    print(f"  LOST               {stats['lost']}")
    rate = stats["completion_tokens"] / stats["wall_s"]
    print(f"  completion tokens  {stats['completion_tokens']} ({rate:.1f} tok/s)")
    for s in stats["error_samples"][:5]:
        print(f"    e.g. {s}")
    m = stats["metrics"]
    if m:
        print(f"  server: finished stop {m.get('dspark_requests_finished_total:stop', 0):.0f}, "
              f"length {m.get('dspark_requests_finished_total:length', 0):.0f}, "
              f"cancelled {m.get('dspark_requests_finished_total:cancelled', 0):.0f}, "
              f"error {m.get('dspark_requests_finished_total:error', 0):.0f}; tau {m.get('dspark_tau', 0):.2f}, "
              f"verification budget {m.get('dspark_verification_budget', 0):.2f}; drained to idle: {stats['idle']}")
    if rss:
        warm = [b for t, b in rss if t >= 0.25 * args.duration] or [rss[-1][1]]
        print(f"  RSS MiB: start {mib(rss[0][1]):.0f}, after warm-up (25 %) {mib(warm[0]):.0f}, "
              f"end {mib(rss[-1][1]):.0f}, peak {mib(max(b for _, b in rss)):.0f} "
              f"(growth after warm-up {mib(rss[-1][1] - warm[0]):+.0f} MiB)")
    ok = stats["lost"] == 0 and stats["errors"] == 0 and stats["idle"]
    print("  result:", "OK" if ok else "PROBLEMS")
    return 0 if ok else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=None, help="a running server; default: start one in this process")
    p.add_argument("--api-key", default=None)
    p.add_argument("--target", default="smollm2-135m", help="in-process: smollm2-135m, tiny, or a model dir")
    p.add_argument("--drafter", default="default")
    p.add_argument("--policy", default="dspark")
    p.add_argument("--sps", default=None, help="SPS table JSON, or 'flat' (default: cached profile)")
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument("--max-len", type=int, default=1024)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--duration", type=float, default=120.0)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--abort-fraction", type=float, default=0.1)
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--request-timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    server = None
    if args.url:
        url = args.url.rstrip("/").removesuffix("/v1")
    else:
        url, server, thread = start_in_process(args)
        print(f"in-process server on {url}", file=sys.stderr)
    try:
        stats = asyncio.run(soak(url, args))
    finally:
        if server is not None:
            server.should_exit = True
            thread.join(30)
    return report(stats, args)


if __name__ == "__main__":
    sys.exit(main())
