"""The OpenAI request bodies as typed models, and their translation into what the engine runs.

The models declare every field of OpenAI's chat and completion requests a client may send; a key
they do not declare is answered with 400 (a misspelt `max_token` would otherwise be ignored in
silence). Fields this server does not implement are declared so that their neutral values pass and
anything else gets a message saying so. What stays hand-written below: the rules that depend on the
served model (prompt length against its context, the chat template, token ids against its vocabulary)
and OpenAI's error body."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..engine import EngineConfig, context_room
from ..errors import DSparkError, require_text
from ..sampling import SamplingParams


class APIError(Exception):
    """An error answered with OpenAI's error body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, "invalid_request_error", param, code)


# --- request bodies --------------------------------------------------------------------------

class _Strict(BaseModel):
    # strict: no "1" for 1, no 2.5 for an int, no "yes" for true; forbid: no unknown keys
    model_config = ConfigDict(extra="forbid", strict=True)


class StreamOptions(_Strict):
    include_usage: bool = False
    continuous_usage_stats: bool = False      # vLLM's extension; accepted, usage comes at the end


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, list[TextPart], None] = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class _Common(_Strict):
    model: str | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=-1)          # -1 or 0 = off (vLLM's convention)
    seed: int | None = None
    max_tokens: int | None = None
    stop: Union[str, list[str], None] = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    user: str | None = None                          # accepted and ignored, as OpenAI does for routing
    # not implemented: only their neutral values pass (checked in sampling())
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    logprobs: Union[bool, int, None] = None
    logit_bias: dict[str, float] | None = None


class ChatRequest(_Common):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = None
    top_logprobs: int | None = None


class CompletionRequest(_Common):
    prompt: Union[str, list[int], list[str], list[list[int]]]
    echo: bool | None = None
    suffix: str | None = None
    best_of: int | None = None


def validate_body(model: type[_Strict], body: dict) -> _Strict:
    """The body as `model`, or a 400 naming the first offending field."""
    try:
        return model.model_validate(body)
    except ValidationError as e:
        err = e.errors()[0]
        loc = [str(x) for x in err["loc"] if not str(x).startswith(("function-", "union["))]
        param = loc[0] if loc else None
        where = ".".join(loc) or "body"
        if err["type"] == "extra_forbidden":
            raise bad_request(f"unknown field '{where}'", param) from None
        if err["type"] == "missing":
            raise bad_request(f"'{where}' is required", param) from None
        raise bad_request(f"'{where}': {err['msg']}", param) from None


# --- what the engine runs --------------------------------------------------------------------

@dataclass
class ParsedRequest:
    prompt_ids: list[int]
    params: SamplingParams
    max_tokens: int
    stop: list[str]
    stream: bool
    include_usage: bool


class ServingContext:
    """The served model's side of a request: model name, context limit, chat template."""

    def __init__(self, target, drafter, engine_config: EngineConfig, model_name: str, max_waiting: int):
        self.target, self.drafter, self.config = target, drafter, engine_config
        self.model_name = model_name
        self.max_waiting = max_waiting
        # prompt + output must leave room for the anchor and one draft block in the KV cache
        self.context_limit = min(engine_config.max_len, target.config.max_position_embeddings) - context_room(drafter)
        self.created = int(time.time())

    def check_model(self, model: str | None) -> None:
        if model is not None and model not in (self.model_name, self.target.name):
            raise APIError(404, f"The model '{model}' does not exist; this server serves '{self.model_name}'",
                           "invalid_request_error", "model", "model_not_found")

    def sampling(self, req: ChatRequest | CompletionRequest, prompt_len: int,
                 prompt_param: str) -> tuple[SamplingParams, int, list[str]]:
        for name in ("presence_penalty", "frequency_penalty", "repetition_penalty"):
            v = getattr(req, name)
            if v is not None and v != (1.0 if name == "repetition_penalty" else 0.0):
                raise bad_request(f"'{name}' is not supported by this server", name)
        if req.n not in (None, 1):
            raise bad_request("only n = 1 is supported", "n")
        if req.logprobs not in (None, False, 0) or getattr(req, "top_logprobs", None) not in (None, 0):
            raise bad_request("logprobs are not supported by this server", "logprobs")
        if getattr(req, "best_of", None) not in (None, 1):
            raise bad_request("best_of is not supported by this server", "best_of")
        if req.logit_bias:
            raise bad_request("logit_bias is not supported by this server", "logit_bias")
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        if len(stop) > 16:
            raise bad_request("at most 16 stop strings", "stop")
        stop = [s for s in stop if s]

        mct = getattr(req, "max_completion_tokens", None)
        max_param, max_tokens = ("max_completion_tokens", mct) if mct is not None else ("max_tokens", req.max_tokens)
        if prompt_len >= self.context_limit:
            raise bad_request(f"This model's maximum context length is {self.context_limit} tokens. However, your "
                              f"prompt has {prompt_len} tokens, leaving no room for output.", prompt_param,
                              "context_length_exceeded")
        if max_tokens is None:
            max_tokens = self.context_limit - prompt_len
        elif max_tokens < 1:
            raise bad_request(f"'{max_param}' must be at least 1, got {max_tokens}", max_param)
        elif prompt_len + max_tokens > self.context_limit:
            raise bad_request(f"This model's maximum context length is {self.context_limit} tokens. However, you "
                              f"requested {prompt_len + max_tokens} tokens ({prompt_len} in the prompt, {max_tokens} "
                              f"for the completion). Please reduce the length of the prompt or the completion.",
                              max_param, "context_length_exceeded")
        top_k = 0 if req.top_k in (None, -1) else req.top_k
        temperature = 1.0 if req.temperature is None else req.temperature
        try:
            params = SamplingParams(temperature, 1.0 if req.top_p is None else req.top_p, top_k, req.seed)
        except DSparkError as e:
            raise bad_request(str(e)) from None
        return params, int(max_tokens), stop

    def chat_prompt(self, req: ChatRequest) -> list[int]:
        clean = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in req.messages]
        try:
            require_text("".join(m["content"] for m in clean), "the conversation")
        except DSparkError as e:
            raise bad_request(str(e), "messages") from None
        if not self.target.has_chat_template:
            raise bad_request(f"model {self.model_name} has no chat template; use /v1/completions", "messages")
        try:
            ids = self.target.tokenizer.apply_chat_template(clean, add_generation_prompt=True, tokenize=True)
        except Exception as e:  # templates raise for e.g. roles they do not support
            raise bad_request(f"the chat template rejected the messages: {e}", "messages") from None
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return list(ids)

    def completion_prompt(self, req: CompletionRequest) -> list[int]:
        prompt = req.prompt
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
            prompt = prompt[0]
        if isinstance(prompt, str):
            try:
                require_text(prompt, "'prompt'")
            except DSparkError as e:
                raise bad_request(str(e), "prompt") from None
            return self.target.encode_prompt(prompt, chat=False)
        if prompt and all(isinstance(t, int) for t in prompt):
            vocab = self.target.config.vocab_size
            if any(not 0 <= t < vocab for t in prompt):
                raise bad_request(f"token ids must lie in 0..{vocab - 1}", "prompt")
            return list(prompt)
        if len(prompt) > 1:
            raise bad_request("batched prompts are not supported; send one prompt per request", "prompt")
        raise bad_request("'prompt' must be a string or a list of token ids", "prompt")

    def parse(self, body: dict, chat: bool) -> ParsedRequest:
        req = validate_body(ChatRequest if chat else CompletionRequest, body)
        self.check_model(req.model)
        if chat:
            ids = self.chat_prompt(req)
        else:
            if req.echo:
                raise bad_request("echo is not supported by this server", "echo")
            if req.suffix:
                raise bad_request("suffix is not supported by this server", "suffix")
            ids = self.completion_prompt(req)
        params, max_tokens, stop = self.sampling(req, len(ids), "messages" if chat else "prompt")
        opts = req.stream_options or StreamOptions()
        return ParsedRequest(ids, params, max_tokens, stop, bool(req.stream), opts.include_usage)
