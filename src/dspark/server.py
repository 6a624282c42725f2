"""`dspark serve`: an OpenAI-compatible HTTP server on the engine.

    POST /v1/chat/completions   chat template of the target, streaming (SSE) or not
    POST /v1/completions        plain-text (or token-id) prompts, streaming or not
    GET  /v1/models             the served model
    GET  /health                200 while the engine thread is alive
    GET  /metrics               Prometheus text: requests, tokens, acceptance, tau, budget, RSS

Threading: the engine is not thread-safe, so ONE background thread owns it (EngineWorker). HTTP
handlers run on the asyncio loop; they hand a request to the worker through a thread-safe inbox
and receive its tokens through an asyncio.Queue that the worker fills with
loop.call_soon_threadsafe. Detokenization, stop strings and JSON happen on the loop side, so the
engine thread only runs rounds. A client that goes away cancels its sequence, which frees the KV
slot at the start of the next step.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import queue
import resource
import sys
import threading
import time
import traceback
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .engine import Engine, EngineConfig
from .errors import DSparkError
from .generate import TextStream
from .sampling import SamplingParams

log = logging.getLogger("dspark.server")

FINISH_REASONS = {"eos": "stop", "stop": "stop", "length": "length"}


# --- errors ------------------------------------------------------------------------------------

class APIError(Exception):
    """An error answered with OpenAI's error body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _bad(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, "invalid_request_error", param, code)


# --- the engine thread ---------------------------------------------------------------------------

@dataclass
class Handle:
    """One request as both sides see it. The worker writes `seq`; the loop side owns the rest."""
    prompt_ids: list[int]
    params: SamplingParams
    max_tokens: int
    stop: list[str]
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue
    seq: object = None
    cancelled: bool = False
    done: bool = False
    got_first_token: bool = False
    submitted: float = field(default_factory=time.perf_counter)


@dataclass
class Counters:
    requests_received: int = 0
    requests_rejected: int = 0           # 4xx before reaching the engine
    finished: dict = field(default_factory=lambda: {"stop": 0, "length": 0, "cancelled": 0, "error": 0})
    prompt_tokens: int = 0
    generation_tokens: int = 0
    ttft_sum: float = 0.0
    ttft_count: int = 0
    e2e_sum: float = 0.0
    e2e_count: int = 0
    engine_errors: int = 0


class EngineWorker:
    """Owns the engine; runs step() in its own thread while there is work."""

    def __init__(self, make_engine):
        self._make_engine = make_engine
        self.engine: Engine = make_engine()
        self.inbox: queue.Queue = queue.Queue()
        self.active: dict[int, Handle] = {}
        self.counters = Counters()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # called from any thread ------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="dspark-engine", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.inbox.put(("wake", None))
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, handle: Handle) -> None:
        self.inbox.put(("add", handle))

    def cancel(self, handle: Handle) -> None:
        handle.cancelled = True
        self.inbox.put(("cancel", handle))

    def num_running(self) -> int:
        e = self.engine
        return len(e.running) + len(e.prefilling)

    def num_waiting(self) -> int:
        return len(self.engine.waiting) + self.inbox.qsize()

    # the engine thread ---------------------------------------------------------------------------
    def _post(self, handle: Handle, item) -> None:
        try:
            handle.loop.call_soon_threadsafe(handle.events.put_nowait, item)
        except RuntimeError:          # the loop is closed: nobody is listening any more
            pass

    def _drain(self, block: bool) -> None:
        try:
            item = self.inbox.get(timeout=0.5) if block else self.inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            kind, handle = item
            if kind == "add":
                if handle.cancelled:
                    self.counters.finished["cancelled"] += 1
                    self._post(handle, ("done", [], "cancelled"))
                else:
                    try:
                        handle.seq = self.engine.add_request(handle.prompt_ids, handle.params,
                                                             handle.max_tokens, handle.stop)
                        self.active[handle.seq.id] = handle
                        self.counters.prompt_tokens += len(handle.prompt_ids)
                    except DSparkError as e:
                        self.counters.finished["error"] += 1
                        self._post(handle, ("error", 400, str(e)))
            elif kind == "cancel" and handle.seq is not None and handle.seq.id in self.active:
                self.engine.cancel(handle.seq)
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return

    def _run(self) -> None:
        while not self._stop.is_set():
            self._drain(block=not self.engine.has_work)
            if self._stop.is_set():
                break
            if not self.engine.has_work:
                continue
            try:
                events = self.engine.step()
            except Exception as e:  # keep serving: fail the requests in flight, start a clean engine
                log.error("engine step failed; failing %d requests and restarting the engine:\n%s",
                          len(self.active), traceback.format_exc())
                self.counters.engine_errors += 1
                self._fail_all(500, f"internal engine error: {type(e).__name__}: {e}")
                stats = self.engine.stats
                self.engine = self._make_engine()
                self.engine.stats = stats
                continue
            now = time.perf_counter()
            for ev in events:
                handle = self.active.get(ev.seq.id)
                if handle is None:
                    continue
                self.counters.generation_tokens += len(ev.new_tokens)
                if ev.new_tokens and not handle.got_first_token:
                    handle.got_first_token = True
                    self.counters.ttft_sum += now - handle.submitted
                    self.counters.ttft_count += 1
                if ev.finished:
                    del self.active[ev.seq.id]
                    reason = ev.finish_reason or "stop"
                    key = "cancelled" if reason == "cancelled" else FINISH_REASONS.get(reason, "stop")
                    self.counters.finished[key] += 1
                    self.counters.e2e_sum += now - handle.submitted
                    self.counters.e2e_count += 1
                    self._post(handle, ("done", ev.new_tokens, reason))
                elif ev.new_tokens:
                    self._post(handle, ("tokens", ev.new_tokens, None))
        self._fail_all(503, "server shutting down")

    def _fail_all(self, status: int, message: str) -> None:
        for handle in self.active.values():
            self.counters.finished["error"] += 1
            self._post(handle, ("error", status, message))
        self.active.clear()
        while True:
            try:
                kind, handle = self.inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "add":
                self._post(handle, ("error", status, message))


# --- request parsing -------------------------------------------------------------------------------

def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass
class ParsedRequest:
    prompt_ids: list[int]
    params: SamplingParams
    max_tokens: int
    stop: list[str]
    stream: bool
    include_usage: bool


class ServingContext:
    def __init__(self, target, drafter, engine_config: EngineConfig, model_name: str, max_waiting: int):
        self.target, self.drafter, self.config = target, drafter, engine_config
        self.model_name = model_name
        self.max_waiting = max_waiting
        gamma = getattr(drafter, "gamma", 0) or 0
        # prompt + output must leave room for the anchor and one draft block in the KV cache
        self.context_limit = min(engine_config.max_len, target.config.max_position_embeddings) - gamma - 2
        self.created = int(time.time())

    # --- fields shared by both endpoints ---------------------------------------------------------
    def check_model(self, body: dict) -> None:
        model = body.get("model")
        if model is None:
            return
        if not isinstance(model, str):
            raise _bad("'model' must be a string", "model")
        if model not in (self.model_name, self.target.name):
            raise APIError(404, f"The model '{model}' does not exist; this server serves '{self.model_name}'",
                           "invalid_request_error", "model", "model_not_found")

    def sampling(self, body: dict, prompt_len: int, prompt_param: str) -> tuple[SamplingParams, int, list[str]]:
        def num(name, default, lo=None, hi=None, lo_open=False):
            v = body.get(name)
            if v is None:
                return default
            if not _is_num(v):
                raise _bad(f"'{name}' must be a number", name)
            if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
                raise _bad(f"'{name}' = {v} is out of range", name)
            return float(v)

        temperature = num("temperature", 1.0, 0.0, 2.0)
        top_p = num("top_p", 1.0, 0.0, 1.0, lo_open=True)
        top_k = body.get("top_k")
        if top_k is None or top_k == -1:
            top_k = 0
        elif not _is_int(top_k) or top_k < 0:
            raise _bad("'top_k' must be a non-negative integer (-1 or 0 = off)", "top_k")
        seed = body.get("seed")
        if seed is not None and not _is_int(seed):
            raise _bad("'seed' must be an integer", "seed")
        for name in ("presence_penalty", "frequency_penalty", "repetition_penalty"):
            v = body.get(name)
            if v is not None and not _is_num(v):
                raise _bad(f"'{name}' must be a number", name)
            if v is not None and v != (1.0 if name == "repetition_penalty" else 0.0):
                raise _bad(f"'{name}' is not supported by this server", name)
        n = body.get("n")
        if n is not None and n != 1:
            raise _bad("only n = 1 is supported", "n")
        if body.get("logprobs") not in (None, False, 0) or body.get("top_logprobs") not in (None, 0):
            raise _bad("logprobs are not supported by this server", "logprobs")
        if body.get("best_of") not in (None, 1):
            raise _bad("best_of is not supported by this server", "best_of")
        stop = body.get("stop")
        if stop is None:
            stop = []
        elif isinstance(stop, str):
            stop = [stop]
        elif not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
            raise _bad("'stop' must be a string or a list of strings", "stop")
        if len(stop) > 16:
            raise _bad("at most 16 stop strings", "stop")
        stop = [s for s in stop if s]

        max_param = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
        max_tokens = body.get(max_param)
        if prompt_len >= self.context_limit:
            raise _bad(f"This model's maximum context length is {self.context_limit} tokens. However, your "
                       f"prompt has {prompt_len} tokens, leaving no room for output.", prompt_param,
                       "context_length_exceeded")
        if max_tokens is None:
            max_tokens = self.context_limit - prompt_len
        elif not _is_int(max_tokens):
            raise _bad(f"'{max_param}' must be an integer", max_param)
        elif max_tokens < 1:
            raise _bad(f"'{max_param}' must be at least 1, got {max_tokens}", max_param)
        elif prompt_len + max_tokens > self.context_limit:
            raise _bad(f"This model's maximum context length is {self.context_limit} tokens. However, you "
                       f"requested {prompt_len + max_tokens} tokens ({prompt_len} in the prompt, {max_tokens} "
                       f"for the completion). Please reduce the length of the prompt or the completion.",
                       max_param, "context_length_exceeded")
        try:
            params = SamplingParams(temperature, top_p, int(top_k), seed)
        except DSparkError as e:
            raise _bad(str(e)) from None
        return params, int(max_tokens), stop

    def stream_flags(self, body: dict) -> tuple[bool, bool]:
        stream = body.get("stream", False)
        if stream is None:
            stream = False
        if not isinstance(stream, bool):
            raise _bad("'stream' must be a boolean", "stream")
        opts = body.get("stream_options") or {}
        if not isinstance(opts, dict):
            raise _bad("'stream_options' must be an object", "stream_options")
        return stream, bool(opts.get("include_usage", False))

    # --- prompts ---------------------------------------------------------------------------------
    def chat_prompt(self, body: dict) -> list[int]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad("'messages' must be a non-empty list", "messages")
        clean = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise _bad(f"messages[{i}] must be an object", "messages")
            role = m.get("role")
            if role not in ("system", "developer", "user", "assistant"):
                raise _bad(f"messages[{i}].role must be system, developer, user or assistant", "messages")
            content = m.get("content")
            if content is None and role == "assistant":
                content = ""
            if isinstance(content, list):
                parts = []
                for part in content:
                    if not (isinstance(part, dict) and part.get("type") == "text"
                            and isinstance(part.get("text"), str)):
                        raise _bad(f"messages[{i}].content: only text parts are supported", "messages")
                    parts.append(part["text"])
                content = "".join(parts)
            if not isinstance(content, str):
                raise _bad(f"messages[{i}].content must be a string or a list of text parts", "messages")
            clean.append({"role": "system" if role == "developer" else role, "content": content})
        if not self.target.has_chat_template:
            raise _bad(f"model {self.model_name} has no chat template; use /v1/completions", "messages")
        try:
            ids = self.target.tokenizer.apply_chat_template(clean, add_generation_prompt=True, tokenize=True)
        except Exception as e:  # templates raise for e.g. roles they do not support
            raise _bad(f"the chat template rejected the messages: {e}", "messages") from None
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return list(ids)

    def completion_prompt(self, body: dict) -> list[int]:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
            prompt = prompt[0]
        if isinstance(prompt, str):
            if not prompt:
                raise _bad("'prompt' is empty", "prompt")
            return self.target.encode_prompt(prompt, chat=False)
        if isinstance(prompt, list) and prompt and all(_is_int(t) for t in prompt):
            vocab = self.target.config.vocab_size
            if any(not 0 <= t < vocab for t in prompt):
                raise _bad(f"token ids must lie in 0..{vocab - 1}", "prompt")
            return list(prompt)
        if isinstance(prompt, list) and len(prompt) > 1:
            raise _bad("batched prompts are not supported; send one prompt per request", "prompt")
        raise _bad("'prompt' must be a string or a list of token ids", "prompt")

    def parse(self, body: dict, chat: bool) -> ParsedRequest:
        self.check_model(body)
        if chat:
            ids = self.chat_prompt(body)
        else:
            if body.get("echo"):
                raise _bad("echo is not supported by this server", "echo")
            if body.get("suffix"):
                raise _bad("suffix is not supported by this server", "suffix")
            ids = self.completion_prompt(body)
        params, max_tokens, stop = self.sampling(body, len(ids), "messages" if chat else "prompt")
        stream, include_usage = self.stream_flags(body)
        return ParsedRequest(ids, params, max_tokens, stop, stream, include_usage)


class OutputText:
    """Detokenizes one request's tokens incrementally and applies stop strings: text that could
    still turn into a stop string is held back; the stop string itself is never sent."""

    def __init__(self, tokenizer, stop: list[str]):
        self.stream = TextStream(tokenizer, None)
        self.stop = stop
        self.hold = max((len(s) for s in stop), default=1) - 1
        self.text = ""
        self.sent = 0
        self.num_tokens = 0
        self.stopped = False

    def feed(self, ids: list[int], final: bool) -> str:
        self.num_tokens += len(ids)
        if self.stopped:
            return ""
        self.text += self.stream.feed(ids, final=final)
        if self.stop and not self.stopped:
            hits = [i for i in (self.text.find(s, max(0, self.sent - len(s))) for s in self.stop) if i >= 0]
            if hits:
                self.text = self.text[:min(hits)]
                self.stopped = final = True
        safe = len(self.text) if final or not self.stop else len(self.text) - self.hold
        if safe <= self.sent:
            return ""
        out = self.text[self.sent:safe]
        self.sent = safe
        return out


# --- the app -----------------------------------------------------------------------------------

def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def render_metrics(worker: EngineWorker, ctx: ServingContext) -> str:
    c, st = worker.counters, worker.engine.stats
    seq_rounds = st.verified_tokens - st.drafted          # one anchor per request per decode round
    tau = (st.accepted + seq_rounds) / seq_rounds if seq_rounds else 0.0
    budget = st.drafted / seq_rounds if seq_rounds else 0.0
    per_step = st.committed / st.rounds if st.rounds else 0.0
    model = ctx.model_name.replace('"', "")
    lab = f'model="{model}"'
    out: list[str] = []

    def metric(name, kind, help_, samples):
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lbl = lab + ("," + labels if labels else "")
            out.append(f"{name}{{{lbl}}} {value}")

    metric("dspark_requests_total", "counter", "Requests received (including rejected ones).",
           [("", c.requests_received)])
    metric("dspark_requests_rejected_total", "counter", "Requests answered with a 4xx before reaching the engine.",
           [("", c.requests_rejected)])
    metric("dspark_requests_finished_total", "counter", "Requests that left the engine, by reason.",
           [(f'reason="{k}"', v) for k, v in c.finished.items()])
    metric("dspark_requests_running", "gauge", "Requests holding a KV-cache slot (prefilling or decoding).",
           [("", worker.num_running())])
    metric("dspark_requests_waiting", "gauge", "Requests queued for a KV-cache slot.", [("", worker.num_waiting())])
    metric("dspark_prompt_tokens_total", "counter", "Prompt tokens admitted.", [("", c.prompt_tokens)])
    metric("dspark_generation_tokens_total", "counter", "Output tokens generated.", [("", c.generation_tokens)])
    metric("dspark_engine_steps_total", "counter", "Engine steps.", [("", st.steps)])
    metric("dspark_decode_rounds_total", "counter", "Steps that ran a verification forward.", [("", st.rounds)])
    metric("dspark_request_rounds_total", "counter", "Verification rounds summed over requests.",
           [("", seq_rounds)])
    metric("dspark_verified_tokens_total", "counter", "Tokens in verification forwards (anchors + drafts).",
           [("", st.verified_tokens)])
    metric("dspark_draft_tokens_proposed_total", "counter",
           "Draft tokens sent to verification (after the scheduler's cut).", [("", st.drafted)])
    metric("dspark_draft_tokens_accepted_total", "counter", "Draft tokens accepted.", [("", st.accepted)])
    metric("dspark_draft_proposed_per_position_total", "counter",
           "Rounds that verified a draft at this position (1-based).",
           [(f'position="{j + 1}"', v) for j, v in enumerate(list(st.proposed_per_position))])
    metric("dspark_draft_accepted_per_position_total", "counter",
           "Rounds that accepted the draft at this position (1-based).",
           [(f'position="{j + 1}"', v) for j, v in enumerate(list(st.accepted_per_position))])
    metric("dspark_tau", "gauge", "Mean accepted length per request round, bonus token included (since start).",
           [("", f"{tau:.6g}")])
    metric("dspark_tokens_per_step", "gauge", "Tokens committed per verification forward (all requests).",
           [("", f"{per_step:.6g}")])
    metric("dspark_verification_budget", "gauge",
           "Average draft tokens verified per request per step (since start).", [("", f"{budget:.6g}")])
    metric("dspark_time_to_first_token_seconds", "summary", "Time from arrival to the first output token.", [])
    out.append(f"dspark_time_to_first_token_seconds_sum{{{lab}}} {c.ttft_sum:.6f}")
    out.append(f"dspark_time_to_first_token_seconds_count{{{lab}}} {c.ttft_count}")
    metric("dspark_e2e_request_latency_seconds", "summary", "Time from arrival to the last output token.", [])
    out.append(f"dspark_e2e_request_latency_seconds_sum{{{lab}}} {c.e2e_sum:.6f}")
    out.append(f"dspark_e2e_request_latency_seconds_count{{{lab}}} {c.e2e_count}")
    metric("dspark_engine_errors_total", "counter", "Engine steps that raised (the engine was restarted).",
           [("", c.engine_errors)])
    metric("dspark_max_batch", "gauge", "KV-cache slots.", [("", ctx.config.max_batch)])
    out.append("# HELP process_resident_memory_bytes Resident memory size in bytes.")
    out.append("# TYPE process_resident_memory_bytes gauge")
    out.append(f"process_resident_memory_bytes {_rss_bytes()}")
    return "\n".join(out) + "\n"


def create_app(target, drafter, engine_config: EngineConfig | None = None, *, sps_table=None,
               api_key: str | None = None, model_name: str | None = None, max_waiting: int = 1024,
               policy=None):
    """The FastAPI app. The engine thread starts with the app (lifespan) and stops with it."""
    engine_config = engine_config or EngineConfig(policy="dspark")
    ctx = ServingContext(target, drafter, engine_config, model_name or target.name, max_waiting)

    def make_engine():
        return Engine(target.model, drafter, engine_config, eos_ids=target.eos_ids, tokenizer=target.tokenizer,
                      sps_table=sps_table, policy=policy)

    worker = EngineWorker(make_engine)

    @asynccontextmanager
    async def lifespan(app):
        worker.start()
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, worker.stop)

    app = FastAPI(title="dspark", lifespan=lifespan)
    app.state.worker, app.state.ctx = worker, ctx

    def error_response(e: APIError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(APIError)
    async def _api_error(request, e: APIError):
        if 400 <= e.status < 500:
            worker.counters.requests_rejected += 1
        return error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, e):
        type_ = "not_found_error" if e.status_code == 404 else "invalid_request_error"
        return error_response(APIError(e.status_code, str(e.detail), type_))

    @app.exception_handler(Exception)
    async def _internal(request, e):
        log.error("unhandled error: %s", traceback.format_exc())
        return error_response(APIError(500, f"internal error: {type(e).__name__}", "server_error"))

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise APIError(401, "Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key")

    async def read_json(request: Request) -> dict:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _bad(f"the request body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise _bad("the request body must be a JSON object")
        return body

    @app.get("/health")
    async def health():
        if not worker.alive:
            return JSONResponse({"status": "engine thread stopped"}, status_code=503)
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics():
        return PlainTextResponse(render_metrics(worker, ctx), media_type="text/plain; version=0.0.4")

    def model_card() -> dict:
        return {"id": ctx.model_name, "object": "model", "created": ctx.created, "owned_by": "dspark",
                "max_model_len": ctx.context_limit,
                "drafter": getattr(drafter, "algorithm", "none"), "policy": engine_config.policy}

    @app.get("/v1/models")
    async def models(request: Request):
        check_key(request)
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str, request: Request):
        check_key(request)
        if model_id not in (ctx.model_name, target.name):
            raise APIError(404, f"The model '{model_id}' does not exist", "invalid_request_error", "model",
                           "model_not_found")
        return model_card()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await complete(request, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await complete(request, chat=False)

    async def complete(request: Request, chat: bool):
        worker.counters.requests_received += 1
        check_key(request)
        body = await read_json(request)
        req = ctx.parse(body, chat)
        if not worker.alive:
            raise APIError(503, "the engine is not running", "server_error")
        if worker.num_waiting() >= ctx.max_waiting:
            raise APIError(429, "too many requests are waiting; retry later", "rate_limit_error")
        loop = asyncio.get_running_loop()
        handle = Handle(req.prompt_ids, req.params, req.max_tokens, req.stop, loop, asyncio.Queue())
        worker.submit(handle)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        if req.stream:
            return StreamingResponse(stream(handle, req, rid, created, chat), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return await collect(request, handle, req, rid, created, chat)

    def usage(req: ParsedRequest, out: OutputText) -> dict:
        n = len(req.prompt_ids)
        return {"prompt_tokens": n, "completion_tokens": out.num_tokens, "total_tokens": n + out.num_tokens}

    def finish(handle: Handle, out: OutputText, reason: str | None) -> str:
        if out.stopped:
            if not handle.done:
                worker.cancel(handle)      # our stop string ended it before the engine noticed
            return "stop"
        return FINISH_REASONS.get(reason, "stop")

    async def next_event(handle: Handle):
        item = await handle.events.get()
        if item[0] in ("done", "error"):
            handle.done = True
        return item

    async def watch_disconnect(request: Request, handle: Handle):
        # The body is read, so the next ASGI message can only be the client going away.
        while not handle.done:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                worker.cancel(handle)
                return

    async def collect(request: Request, handle: Handle, req: ParsedRequest, rid: str, created: int, chat: bool):
        out = OutputText(target.tokenizer, req.stop)
        watcher = asyncio.create_task(watch_disconnect(request, handle))
        try:
            while True:
                item = await next_event(handle)
                kind = item[0]
                if kind == "error":
                    raise APIError(item[1], item[2], "invalid_request_error" if item[1] < 500 else "server_error")
                out.feed(item[1], final=kind == "done")
                if kind == "done" or out.stopped:
                    break
        finally:
            watcher.cancel()
            if not handle.done:
                worker.cancel(handle)
        if item[2] == "cancelled":
            return JSONResponse({}, status_code=499)      # nobody is listening
        reason = finish(handle, out, item[2] if kind == "done" else None)
        if chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": out.text},
                      "logprobs": None, "finish_reason": reason}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": out.text, "logprobs": None, "finish_reason": reason}
            obj = "text_completion"
        return {"id": rid, "object": obj, "created": created, "model": ctx.model_name, "choices": [choice],
                "usage": usage(req, out)}

    def sse(obj) -> bytes:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()

    async def stream(handle: Handle, req: ParsedRequest, rid: str, created: int, chat: bool):
        out = OutputText(target.tokenizer, req.stop)
        obj = "chat.completion.chunk" if chat else "text_completion"

        def chunk(text: str | None, reason: str | None, first: bool = False) -> bytes:
            if chat:
                delta = {} if text is None else {"content": text}
                if first:
                    delta = {"role": "assistant", "content": ""}
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            else:
                choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
            c = {"id": rid, "object": obj, "created": created, "model": ctx.model_name, "choices": [choice]}
            if req.include_usage:
                c["usage"] = None
            return sse(c)

        try:
            if chat:
                yield chunk(None, None, first=True)
            while True:
                kind, *rest = await next_event(handle)
                if kind == "error":
                    status, message = rest
                    yield sse(APIError(status, message, "server_error" if status >= 500
                                       else "invalid_request_error").body())
                    break
                tokens, reason = rest
                text = out.feed(tokens, final=kind == "done")
                if text:
                    yield chunk(text, None)
                if kind == "done" or out.stopped:
                    yield chunk(None, finish(handle, out, reason))
                    if req.include_usage:
                        yield sse({"id": rid, "object": obj, "created": created, "model": ctx.model_name,
                                   "choices": [], "usage": usage(req, out)})
                    break
            yield b"data: [DONE]\n\n"
        finally:
            # The client went away (the task is cancelled or the generator closed) or we are done.
            if not handle.done:
                worker.cancel(handle)

    return app


# --- CLI ---------------------------------------------------------------------------------------

def add_arguments(p) -> None:
    from .cli import add_target_arguments
    add_target_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s, local only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--policy", default="dspark", help="verification policy (default: %(default)s)")
    p.add_argument("--api-key", default=os.environ.get("DSPARK_API_KEY"),
                   help="require 'Authorization: Bearer KEY' on /v1 (default: $DSPARK_API_KEY, else none)")
    p.add_argument("--max-batch", type=int, default=8, help="concurrent sequences / KV-cache slots")
    p.add_argument("--max-len", type=int, default=2048, help="tokens per sequence (prompt + output + draft block)")
    p.add_argument("--prefill-chunk", type=int, default=512, help="prompt tokens per prefill forward")
    p.add_argument("--max-waiting", type=int, default=1024, help="queued requests before answering 429")
    p.add_argument("--sps", default=None,
                   help="SPS table JSON for the dspark policies (default: cached profile, profiled on first start)")
    p.add_argument("--model-name", default=None, help="model id the API reports (default: the target's name)")
    p.add_argument("--log-level", default="info")


def run(args) -> int:
    import uvicorn

    from .cli import load_target_and_drafter, setup_torch
    from .schedule import POLICIES
    if args.policy not in POLICIES:
        raise DSparkError(f"unknown policy {args.policy!r}; choose one of {', '.join(POLICIES)}")
    if args.max_batch < 1 or args.max_len < 16:
        raise DSparkError("--max-batch must be >= 1 and --max-len >= 16")
    setup_torch(args)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO))
    target, drafter = load_target_and_drafter(args)
    max_len = min(args.max_len, target.config.max_position_embeddings)
    cfg = EngineConfig(max_batch=args.max_batch, max_len=max_len, prefill_chunk=args.prefill_chunk,
                       policy=args.policy)
    from .profile import sps_for_policies
    sps = sps_for_policies(args.policy, target, args.device, args.dtype, args.sps)
    app = create_app(target, drafter, cfg, sps_table=sps, api_key=args.api_key, model_name=args.model_name,
                     max_waiting=args.max_waiting)
    print(f"dspark serve: {target.name} with drafter {getattr(drafter, 'algorithm', 'none')}, policy {args.policy}, "
          f"{args.max_batch} slots x {max_len} tokens on http://{args.host}:{args.port}/v1"
          + (" (API key required)" if args.api_key else ""), file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())
    return 0
