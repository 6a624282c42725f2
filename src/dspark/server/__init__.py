"""`dspark serve`'s library: an OpenAI-compatible HTTP server on the engine.

    POST /v1/chat/completions   chat template of the target, streaming (SSE) or not
    POST /v1/completions        plain-text (or token-id) prompts, streaming or not
    GET  /v1/models             the served model
    GET  /health                200 while the engine thread is alive
    GET  /metrics               Prometheus text: requests, tokens, acceptance, tau, budget, RSS

protocol.py  request bodies (typed models) and their translation into engine requests
worker.py    the one thread that owns the engine
metrics.py   /metrics through prometheus_client
app.py       the FastAPI app: endpoints, streaming, stop strings
"""
from .app import OutputText, create_app  # noqa: F401
from .protocol import APIError, ServingContext  # noqa: F401
from .worker import EngineWorker  # noqa: F401
