"""Single-prompt generation ON the engine: the same round that serving runs, with one request."""
from __future__ import annotations

import time
from typing import Callable

from .engine import make_engine
from .errors import require_text
from .models.loader import Target
from .sampling import SamplingParams
from .stats import summarize


class TextStream:
    """Incremental detokenization: emit only text that will not change when more tokens arrive
    (a trailing replacement character means a multi-byte character is still incomplete).

    Each feed decodes only the tokens since the last emission, behind the tokens of the emission
    before it (so the window starts where the text is already settled, and a tokenizer that drops
    a leading space at the start of a decode drops it in both decodes). Decoding the whole output
    at every step cost ~1 us a token: a millisecond a step past a thousand tokens."""

    def __init__(self, tokenizer, on_text: Callable[[str], None] | None):
        self.tokenizer, self.on_text = tokenizer, on_text
        self.ids: list[int] = []
        self.emitted = ""
        self._prefix = 0      # ids[_prefix:_read] decode to the end of what was emitted
        self._read = 0        # ids[:_read] are in self.emitted

    def _decode(self, start: int, end: int) -> str:
        return self.tokenizer.decode(self.ids[start:end], skip_special_tokens=True)

    def feed(self, ids: list[int], final: bool = False) -> str:
        self.ids.extend(ids)
        if len(self.ids) == self._read and not final:
            return ""
        settled = self._decode(self._prefix, self._read)
        text = self._decode(self._prefix, len(self.ids))
        if text.endswith("\ufffd") and not final:
            return ""                                   # a character still incomplete: wait for it
        if text.startswith(settled):
            delta = text[len(settled):]
        else:                                           # the window decoded differently: compare it all
            whole = self._decode(0, len(self.ids))
            delta = whole[len(self.emitted):] if whole.startswith(self.emitted) else ""
        self._prefix, self._read = self._read, len(self.ids)
        if delta:
            self.emitted += delta
            if self.on_text:
                self.on_text(delta)
        return delta


def generate(target: Target, drafter, prompt: str | list[int], params: SamplingParams | None = None,
             max_new_tokens: int = 256, policy: str = "fixed", chat: bool | None = None,
             on_text: Callable[[str], None] | None = None, sps_table=None, verification: str = "block") -> dict:
    params = params or SamplingParams()
    ids = prompt if isinstance(prompt, list) else target.encode_prompt(require_text(prompt), chat)
    engine = make_engine(target, drafter, tokens=len(ids) + max_new_tokens, policy=policy, sps_table=sps_table,
                         verification=verification)
    stream = TextStream(target.tokenizer, on_text)
    t0 = time.perf_counter()
    seq = engine.add_request(ids, params, max_new_tokens)
    reason, first = None, None
    while engine.has_work:
        for ev in engine.step():
            if first is None and ev.new_tokens:       # the prompt's prefill ends with the first token
                first = time.perf_counter() - t0
            stream.feed(ev.new_tokens)
            reason = ev.finish_reason or reason
    elapsed = time.perf_counter() - t0
    stream.feed([], final=True)
    out = seq.output_ids
    stats = summarize(seq.rounds)
    return {
        "text": stream.emitted, "token_ids": out, "num_new_tokens": len(out), "prompt_tokens": len(ids),
        "rounds": stats["rounds"], "tau": stats["tau"], "accept_rate": stats["accept_rate"],
        "tokens_per_second": len(out) / elapsed if elapsed > 0 else 0.0, "elapsed_s": elapsed,
        "first_token_s": elapsed if first is None else first,
        "finish_reason": reason, "target": target.name, "drafter": getattr(drafter, "algorithm", "none"),
        "policy": engine.policy.name,
    }
