"""Regenerate every assistant answer with the target itself (METHOD section 3).

Default backend: our own engine, many conversations batched in one flat target forward. Or any
OpenAI-compatible endpoint (`--url`), so a vLLM or SGLang cluster can do it at scale.

Output, one line per conversation keyed by prompt id: a `.jsonl` file, or for data at scale a
directory of gzip'd shards with a manifest (deepspec.data.shards) that can be committed as it grows.
A rerun skips ids already written, so a killed run resumes with no duplicates and no gaps. Failures
are logged to <out>.errors.jsonl and skipped, never fatal.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from dspark.errors import DSparkError

from .prompts import PromptRecord
from .shards import JsonlSink, ShardStore


@dataclass
class RegenSettings:
    temperature: float = 0.7     # the reference recipe's sampling (non-thinking mode)
    top_p: float = 0.8
    top_k: int = 20
    max_new_tokens: int = 512
    seed: int = 0

    def seed_for(self, prompt_id: str, turn: int) -> int:
        """Deterministic per conversation and turn, whatever the batch composition."""
        h = hashlib.sha256(f"{self.seed}:{prompt_id}:{turn}".encode()).digest()
        return int.from_bytes(h[:4], "little")


def _record(rec: PromptRecord, messages: list[dict], gen: dict) -> dict:
    return {"id": rec.id, "source": rec.source, "domain": rec.domain, "conversations": messages,
            "generation": gen}


class EngineBackend:
    """Batched regeneration through our engine (chat template of the target)."""

    def __init__(self, target, drafter, max_batch: int, settings: RegenSettings):
        from dspark.engine import Engine, EngineConfig
        self.target, self.settings = target, settings
        max_len = min(target.config.max_position_embeddings, 4096)
        # A conversation's next turn starts with everything its last turn held: reuse that prefix
        # (half the prompt tokens, ~19 % of the forward rows on the 24k set) where the drafter allows.
        reuse = drafter is None or not drafter.observes_positions
        self.engine = Engine(target.model, drafter, EngineConfig(max_batch=max_batch, max_len=max_len,
                                                                 prefix_reuse=reuse),
                             eos_ids=target.eos_ids, tokenizer=target.tokenizer)
        self.max_len = max_len
        from dspark.models.packed import default_precision
        self.precision = default_precision()    # fixed when the target was loaded: recorded per answer

    def identity(self) -> dict:
        """What produced the answers, for a shard store's manifest: the target and its weights file."""
        t = self.target
        source = Path(t.path) / "dspark_source.json"     # written when a named target is converted
        weights = json.loads(source.read_text()).get("gguf") if source.exists() else str(t.path)
        return {"name": t.name, **t.config.fingerprint(), "weights": weights}

    def run(self, records: list[PromptRecord], on_done, on_error) -> None:
        """Conversations advance turn by turn; each turn of each conversation is one request."""
        from dspark.sampling import SamplingParams
        s = self.settings
        state = {r.id: {"rec": r, "messages": [], "turns": list(r.messages), "tokens": 0, "reasons": []}
                 for r in records}
        queue = list(state)
        active: dict[int, str] = {}

        def submit(cid: str) -> None:
            st = state[cid]
            while st["turns"] and st["turns"][0]["role"] != "user":
                st["messages"].append(st["turns"].pop(0))    # system turns pass through
            if not st["turns"]:
                on_done(_record(st["rec"], st["messages"], self._gen(st)))
                return
            st["messages"].append(st["turns"].pop(0))
            while st["turns"] and st["turns"][0]["role"] == "assistant":
                st["turns"].pop(0)                            # old answers are replaced
            try:
                if self.target.has_chat_template:
                    ids = self.target.tokenizer.apply_chat_template(st["messages"], add_generation_prompt=True,
                                                                    tokenize=True)
                    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
                else:
                    # A base model (Gemma 3 270M): plain-text continuation of the user's words, the
                    # layout deepspec.data.tokenize trains such targets on.
                    ids = self.target.encode_prompt(st["messages"][-1]["content"], chat=False)
                room = self.max_len - len(ids) - 16
                if room < 16:
                    raise DSparkError(f"prompt of {len(ids)} tokens leaves no room to answer")
                params = SamplingParams(s.temperature, s.top_p, s.top_k, s.seed_for(cid, len(st["messages"])))
                seq = self.engine.add_request(ids, params, min(s.max_new_tokens, room))
            except Exception as e:  # one bad prompt must not stop the run
                on_error(cid, repr(e))
                return
            active[seq.id] = cid

        while queue or active:
            while queue and len(active) < self.engine.config.max_batch:
                submit(queue.pop(0))
            if not self.engine.has_work:
                continue
            for ev in self.engine.step():
                if not ev.finished:
                    continue
                cid = active.pop(ev.seq.id)
                st = state[cid]
                text = self.target.tokenizer.decode(ev.seq.output_ids, skip_special_tokens=True)
                st["messages"].append({"role": "assistant", "content": text})
                st["tokens"] += ev.seq.num_new
                st["reasons"].append(ev.finish_reason)
                if st["turns"]:
                    queue.insert(0, cid)
                else:
                    on_done(_record(st["rec"], st["messages"], self._gen(st)))

    def _gen(self, st) -> dict:
        s = self.settings
        return {"backend": "dspark", "target": self.target.name, "precision": self.precision,
                "temperature": s.temperature, "top_p": s.top_p,
                "top_k": s.top_k, "seed": s.seed, "max_new_tokens": s.max_new_tokens,
                "num_tokens": st["tokens"], "finish_reasons": st["reasons"]}


class EndpointBackend:
    """Any OpenAI-compatible /v1/chat/completions endpoint."""

    def __init__(self, url: str, model: str, settings: RegenSettings, concurrency: int, api_key: str | None):
        self.url = url.rstrip("/")
        if not self.url.endswith("/v1"):
            self.url += "/v1"
        self.model, self.settings, self.concurrency = model, settings, concurrency
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def identity(self) -> dict:
        return {"endpoint": self.url, "model": self.model}

    def _one(self, rec: PromptRecord) -> dict:
        import httpx
        s, messages, tokens = self.settings, [], 0
        with httpx.Client(timeout=600) as client:
            for i, m in enumerate(rec.messages):
                if m["role"] == "assistant":
                    continue
                messages.append(m)
                if m["role"] != "user":
                    continue
                body = {"model": self.model, "messages": messages, "temperature": s.temperature, "top_p": s.top_p,
                        "top_k": s.top_k, "max_tokens": s.max_new_tokens, "seed": s.seed_for(rec.id, i)}
                r = client.post(f"{self.url}/chat/completions", json=body, headers=self.headers)
                r.raise_for_status()
                data = r.json()
                messages.append({"role": "assistant", "content": data["choices"][0]["message"]["content"]})
                tokens += data.get("usage", {}).get("completion_tokens", 0)
        gen = {"backend": "endpoint", "url": self.url, "model": self.model, "temperature": s.temperature,
               "top_p": s.top_p, "top_k": s.top_k, "seed": s.seed, "max_new_tokens": s.max_new_tokens,
               "num_tokens": tokens}
        return _record(rec, messages, gen)

    def run(self, records, on_done, on_error) -> None:
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = {pool.submit(self._one, r): r for r in records}
            for fut in futures:
                try:
                    on_done(fut.result())
                except Exception as e:
                    on_error(futures[fut].id, repr(e))


def open_sink(out: Path, backend, settings: RegenSettings, shard_size: int = 1000):
    """A `.jsonl` path is one appended file; anything else is a shard directory."""
    out = Path(out)
    if out.suffix == ".jsonl":
        return JsonlSink(out)
    return ShardStore(out, asdict(settings), backend.identity(), shard_size)


def regenerate(records: list[PromptRecord], sink, backend, limit: int | None = None,
               errors_path: Path | None = None) -> dict:
    have = sink.ids()
    todo = [r for r in records if r.id not in have]
    if limit is not None:
        todo = todo[:max(0, limit - len(have))]
    stats = {"done_before": len(have), "written": 0, "failed": 0, "tokens": 0}
    t0 = time.perf_counter()
    errors = errors_path.open("a") if errors_path else None
    try:
        with tqdm(total=len(todo), desc="regenerate", unit="conv", file=sys.stderr) as bar:
            def on_done(row: dict) -> None:
                sink.write(row)
                stats["written"] += 1
                stats["tokens"] += row["generation"].get("num_tokens", 0)
                bar.update(1)
                bar.set_postfix(tok_s=f"{stats['tokens'] / max(time.perf_counter() - t0, 1e-9):.1f}")

            def on_error(cid: str, msg: str) -> None:
                if errors:
                    errors.write(json.dumps({"id": cid, "error": msg}) + "\n")
                    errors.flush()
                stats["failed"] += 1
                bar.update(1)

            backend.run(todo, on_done, on_error)
    finally:
        sink.close()
        if errors:
            errors.close()
    stats["elapsed_s"] = time.perf_counter() - t0
    stats["tokens_per_second"] = stats["tokens"] / stats["elapsed_s"] if stats["elapsed_s"] > 0 else 0.0
    return stats
