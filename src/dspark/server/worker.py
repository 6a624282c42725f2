"""The engine thread. The engine is not thread-safe, so ONE background thread owns it: HTTP
handlers run on the asyncio loop and hand requests to the worker through a thread-safe inbox; the
worker sends each request's tokens back through its asyncio.Queue with loop.call_soon_threadsafe.
A client that goes away cancels its sequence, which frees the KV slot at the start of the next step.
A step that raises fails the requests in flight and the worker carries on with a fresh engine."""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field

from ..engine import Engine
from ..errors import DSparkError
from ..sampling import SamplingParams

log = logging.getLogger("dspark.server")

FINISH_REASONS = {"eos": "stop", "stop": "stop", "length": "length"}


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
