"""The closed loop of `dspark bench`, in process or against a server.

At concurrency c, c simulated users each send a request, wait for its last token and send the next
one at once, until the level's request budget or its time is spent (requests in flight then finish).
  in process   one engine per policy on the same loaded target and drafter, run in this thread
               (exact timestamps); policies are interleaved level by level, so machine noise hits all.
  --url        a running `dspark serve` (or any OpenAI-compatible server): streaming requests; tau and
               verification budget come from the server's /metrics (the same RoundTotals) when it has them.
Per-user TPS = output tokens / (last token time - first token time) per request; aggregate
throughput = output tokens / wall time; tau, tokens per step and budget are dspark.stats' definitions.
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import time
from dataclasses import dataclass

from ..drafters.base import Drafter
from ..engine import make_engine
from ..errors import DSparkError
from ..sampling import SamplingParams
from ..server.metrics import read_totals
from ..stats import RoundTotals
from .report import row_line
from .workloads import BenchRequest


@dataclass
class RequestResult:
    submitted: float
    first: float | None = None
    last: float | None = None
    output_tokens: int = 0
    error: str | None = None
    done: bool = False


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return math.nan
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(policy: str, concurrency: int, results: list[RequestResult], wall: float,
              totals: RoundTotals | None) -> dict:
    ok = [r for r in results if r.error is None and r.done]
    tokens = sum(r.output_tokens for r in ok)
    tps = [r.output_tokens / (r.last - r.first) for r in ok
           if r.first is not None and r.last is not None and r.last > r.first]
    ttft = [r.first - r.submitted for r in ok if r.first is not None]
    itl = [(r.last - r.first) / (r.output_tokens - 1) for r in ok
           if r.first is not None and r.output_tokens > 1 and r.last > r.first]
    nan = lambda x: math.nan if x is None else x  # noqa: E731  (a CSV cell, not a JSON null)
    return {
        "policy": policy, "concurrency": concurrency, "requests": len(ok), "errors": len(results) - len(ok),
        "output_tokens": tokens, "wall_s": wall, "throughput_tok_s": tokens / wall if wall > 0 else math.nan,
        "per_user_tps_mean": statistics.fmean(tps) if tps else math.nan,
        "per_user_tps_median": statistics.median(tps) if tps else math.nan,
        "ttft_mean_s": statistics.fmean(ttft) if ttft else math.nan,
        "ttft_p50_s": _pct(ttft, 0.5), "ttft_p90_s": _pct(ttft, 0.9),
        "itl_mean_ms": 1e3 * statistics.fmean(itl) if itl else math.nan,
        "tau": nan(totals and totals.tau), "tokens_per_step": nan(totals and totals.tokens_per_step),
        "verify_budget": nan(totals and totals.verify_budget), "steps": totals.steps if totals else math.nan,
    }


def _can_issue(issued: int, t0: float, num_requests: int | None, duration: float | None) -> bool:
    if num_requests is not None and issued >= num_requests:
        return False
    return duration is None or time.perf_counter() - t0 < duration


def run_engine_level(engine, requests: list[BenchRequest], concurrency: int, params: SamplingParams,
                     duration: float | None = None, num_requests: int | None = None,
                     start_index: int = 0) -> tuple[list[RequestResult], float]:
    """Closed loop on an engine in this thread. Returns per-request results and the wall time."""
    if duration is None and num_requests is None:
        raise DSparkError("bound each level with a duration or a number of requests")
    results: dict[int, RequestResult] = {}
    done: list[RequestResult] = []
    issued = 0
    t0 = time.perf_counter()

    def issue():
        nonlocal issued
        req = requests[(start_index + issued) % len(requests)]
        p = params if params.greedy or params.seed is None else \
            SamplingParams(params.temperature, params.top_p, params.top_k, params.seed + start_index + issued)
        seq = engine.add_request(req.prompt_ids, p, req.max_tokens)
        results[seq.id] = RequestResult(time.perf_counter())
        issued += 1

    for _ in range(concurrency):
        if _can_issue(issued, t0, num_requests, duration):
            issue()
    end = t0
    while engine.has_work:
        events = engine.step()
        now = time.perf_counter()
        for ev in events:
            r = results.get(ev.seq.id)
            if r is None:
                continue
            if ev.new_tokens:
                r.first = r.first if r.first is not None else now
                r.last = now
                r.output_tokens += len(ev.new_tokens)
            if ev.finished:
                r.done = True
                done.append(results.pop(ev.seq.id))
                end = now
                if _can_issue(issued, t0, num_requests, duration):
                    issue()
    return done, end - t0


def bench_engine(target, drafter, requests: list[BenchRequest], policies: list[str], levels: list[int],
                 params: SamplingParams | None = None, duration: float | None = None,
                 num_requests: int | None = None, sps_table=None, max_len: int | None = None,
                 prefill_chunk: int = 512, warmup: bool = True, log=None, verification: str = "block") -> list[dict]:
    """One engine per (level, policy) on the same target and drafter; policies interleaved."""
    params = params or SamplingParams()
    log = log or (lambda msg: print(msg, file=sys.stderr))
    need = max(len(r.prompt_ids) + r.max_tokens for r in requests)
    rows = []
    for c in levels:
        for k, policy in enumerate(policies):
            # plain decoding drafts nothing: do not charge the baseline for a drafter it ignores
            d = Drafter() if policy == "none" else drafter
            engine = make_engine(target, d, tokens=need, max_len=max_len, max_batch=c, policy=policy,
                                 prefill_chunk=prefill_chunk, sps_table=sps_table, verification=verification)
            if warmup:
                engine.add_request(requests[0].prompt_ids, params, min(4, requests[0].max_tokens))
                engine.run_until_done()
                engine.stats = RoundTotals()
            # the same requests for every policy at a level
            results, wall = run_engine_level(engine, requests, c, params, duration, num_requests)
            row = summarize(policy, c, results, wall, engine.stats)
            rows.append(row)
            log(row_line(row))
            del engine
    return rows


async def _scrape(client, url: str) -> RoundTotals | None:
    try:
        r = await client.get(f"{url}/metrics")
        return read_totals(r.text) if r.status_code == 200 else None
    except Exception:
        return None


async def _http_request(client, url: str, model: str, req: BenchRequest, params: SamplingParams, chat: bool,
                        seed: int | None) -> RequestResult:
    r = RequestResult(time.perf_counter())
    body = {"model": model, "max_tokens": req.max_tokens, "temperature": params.temperature,
            "top_p": params.top_p, "stream": True, "stream_options": {"include_usage": True}}
    if params.top_k:
        body["top_k"] = params.top_k
    if seed is not None:
        body["seed"] = seed
    if chat:
        body["messages"] = [{"role": "user", "content": req.prompt}]
        endpoint = "/v1/chat/completions"
    else:
        body["prompt"] = req.prompt
        endpoint = "/v1/completions"
    chunks, usage_tokens, got_done = 0, None, False
    try:
        async with client.stream("POST", url + endpoint, json=body) as resp:
            if resp.status_code != 200:
                await resp.aread()
                r.error = f"HTTP {resp.status_code}: {resp.text[:200]}"
                return r
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    got_done = True
                    break
                obj = json.loads(data)
                if "error" in obj:
                    r.error = str(obj["error"])[:200]
                    return r
                if obj.get("usage"):
                    usage_tokens = obj["usage"].get("completion_tokens")
                for ch in obj.get("choices") or []:
                    text = (ch.get("delta") or {}).get("content") if chat else ch.get("text")
                    if text:
                        now = time.perf_counter()
                        r.first = r.first if r.first is not None else now
                        r.last = now
                        chunks += 1
    except Exception as e:  # connection errors count as errors, the run goes on
        r.error = f"{type(e).__name__}: {e}"
        return r
    if not got_done:
        r.error = "stream ended without [DONE]"
        return r
    r.output_tokens = usage_tokens if usage_tokens is not None else chunks
    r.done = True
    return r


async def run_http_level(url: str, requests: list[BenchRequest], concurrency: int, params: SamplingParams,
                         duration: float | None, num_requests: int | None, api_key: str | None = None,
                         chat: bool = True, model: str | None = None, start_index: int = 0):
    import asyncio

    import httpx
    if duration is None and num_requests is None:
        raise DSparkError("bound each level with a duration or a number of requests")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0), headers=headers,
                                 limits=limits) as client:
        if model is None:
            resp = await client.get(f"{url}/v1/models")
            if resp.status_code != 200:
                raise DSparkError(f"{url}/v1/models answered HTTP {resp.status_code}: {resp.text[:200]}")
            model = resp.json()["data"][0]["id"]
        before = await _scrape(client, url)
        results: list[RequestResult] = []
        issued = 0
        t0 = time.perf_counter()
        end = t0

        async def user():
            nonlocal issued, end
            while _can_issue(issued, t0, num_requests, duration):
                i = start_index + issued
                issued += 1
                seed = None if params.greedy or params.seed is None else params.seed + i
                res = await _http_request(client, url, model, requests[i % len(requests)], params, chat, seed)
                results.append(res)
                end = time.perf_counter()

        await asyncio.gather(*(user() for _ in range(concurrency)))
        after = await _scrape(client, url)
    return results, end - t0, (after.minus(before) if before is not None and after is not None else None)


def bench_url(url: str, requests: list[BenchRequest], levels: list[int], params: SamplingParams | None = None,
              duration: float | None = None, num_requests: int | None = None, api_key: str | None = None,
              chat: bool = True, label: str = "server", log=None) -> list[dict]:
    import asyncio
    params = params or SamplingParams()
    log = log or (lambda msg: print(msg, file=sys.stderr))
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[:-3]
    rows = []
    for c in levels:
        results, wall, stats = asyncio.run(run_http_level(url, requests, c, params, duration, num_requests, api_key,
                                                          chat))
        row = summarize(label, c, results, wall, stats)
        rows.append(row)
        log(row_line(row))
        for r in results:
            if r.error:
                log(f"  error: {r.error}")
                break
    return rows
