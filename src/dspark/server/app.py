"""The FastAPI app of `dspark serve`: OpenAI's /v1/chat/completions, /v1/completions and /v1/models,
plus /health and /metrics. Detokenization, stop strings and JSON happen on the asyncio loop; the
engine thread (worker.py) only runs rounds."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import traceback
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..engine import EngineConfig, make_engine
from ..generate import TextStream
from .metrics import CONTENT_TYPE, make_registry, render_metrics
from .protocol import APIError, ParsedRequest, ServingContext, bad_request
from .worker import FINISH_REASONS, EngineWorker, Handle

log = logging.getLogger("dspark.server")


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


def create_app(target, drafter, engine_config: EngineConfig | None = None, *, sps_table=None,
               api_key: str | None = None, model_name: str | None = None, max_waiting: int = 1024,
               policy=None):
    """The FastAPI app. The engine thread starts with the app (lifespan) and stops with it."""
    engine_config = engine_config or EngineConfig(policy="dspark")
    ctx = ServingContext(target, drafter, engine_config, model_name or target.name, max_waiting)

    def new_engine():
        c = engine_config
        return make_engine(target, drafter, max_len=c.max_len, max_batch=c.max_batch, policy=c.policy,
                           prefill_chunk=c.prefill_chunk, sps_table=sps_table, policy_obj=policy,
                           verification=c.verification)

    worker = EngineWorker(new_engine)
    registry = make_registry(worker, ctx)

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
            raise bad_request(f"the request body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        return body

    @app.get("/health")
    async def health():
        if not worker.alive:
            return JSONResponse({"status": "engine thread stopped"}, status_code=503)
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics():
        return Response(render_metrics(registry), media_type=CONTENT_TYPE)

    def model_card() -> dict:
        return {"id": ctx.model_name, "object": "model", "created": ctx.created, "owned_by": "dspark",
                "max_model_len": ctx.context_limit,
                "drafter": getattr(drafter, "algorithm", "none"), "policy": engine_config.policy,
                "verification": engine_config.verification}

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
