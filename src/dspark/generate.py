"""Single-prompt generation ON the engine: the same round that serving runs, with one request."""
from __future__ import annotations

import time
from typing import Callable

from .engine import Engine, EngineConfig
from .errors import DSparkError
from .models.loader import Target
from .sampling import SamplingParams


class TextStream:
    """Incremental detokenization: emit only text that will not change when more tokens arrive
    (a trailing replacement character means a multi-byte character is still incomplete)."""

    def __init__(self, tokenizer, on_text: Callable[[str], None] | None):
        self.tokenizer, self.on_text = tokenizer, on_text
        self.ids: list[int] = []
        self.emitted = ""

    def feed(self, ids: list[int], final: bool = False) -> str:
        self.ids.extend(ids)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not final:
            text = text.rstrip("\ufffd")
        delta = text[len(self.emitted):] if text.startswith(self.emitted) else ""
        if delta:
            self.emitted += delta
            if self.on_text:
                self.on_text(delta)
        return delta


def summarize_rounds(round_log: list[dict]) -> dict:
    """tau (bonus included; a round ending on an accepted end-of-sequence counts its accepted
    tokens only) and prefix-survival acceptance per position."""
    rounds = len(round_log)
    tau = sum(r["accepted"] if r["eos"] else r["accepted"] + 1 for r in round_log) / rounds if rounds else 0.0
    gamma = max((r["proposed"] for r in round_log), default=0)
    accept = []
    for j in range(1, gamma + 1):
        proposed = sum(r["proposed"] >= j for r in round_log)
        accept.append(sum(r["accepted"] >= j for r in round_log) / proposed if proposed else 0.0)
    return {"rounds": rounds, "tau": tau, "accept_rate": accept}


def generate(target: Target, drafter, prompt: str | list[int], params: SamplingParams | None = None,
             max_new_tokens: int = 256, policy: str = "fixed", chat: bool | None = None,
             on_text: Callable[[str], None] | None = None, engine_config: EngineConfig | None = None,
             sps_table=None) -> dict:
    params = params or SamplingParams()
    ids = prompt if isinstance(prompt, list) else target.encode_prompt(prompt, chat)
    gamma = getattr(drafter, "gamma", 0)
    needed = len(ids) + max_new_tokens + gamma + 2
    limit = target.config.max_position_embeddings
    if len(ids) + gamma + 2 > limit:
        raise DSparkError(f"prompt has {len(ids)} tokens; {target.name} handles at most {limit - gamma - 2}")
    cfg = engine_config or EngineConfig(max_batch=1, max_len=min(needed, limit), policy=policy)
    engine = Engine(target.model, drafter, cfg, eos_ids=target.eos_ids, tokenizer=target.tokenizer,
                    sps_table=sps_table)
    stream = TextStream(target.tokenizer, on_text)
    t0 = time.perf_counter()
    seq = engine.add_request(ids, params, max_new_tokens)
    reason = None
    while engine.has_work:
        for ev in engine.step():
            stream.feed(ev.new_tokens)
            reason = ev.finish_reason or reason
    elapsed = time.perf_counter() - t0
    stream.feed([], final=True)
    out = seq.output_ids
    stats = summarize_rounds(seq.round_log)
    return {
        "text": stream.emitted, "token_ids": out, "num_new_tokens": len(out), "prompt_tokens": len(ids),
        "rounds": stats["rounds"], "tau": stats["tau"], "accept_rate": stats["accept_rate"],
        "tokens_per_second": len(out) / elapsed if elapsed > 0 else 0.0, "elapsed_s": elapsed,
        "finish_reason": reason, "target": target.name, "drafter": getattr(drafter, "algorithm", "none"),
        "policy": engine.policy.name,
    }
