"""Bench workloads: prompts and output lengths from ShareGPT (first human turn; output length = the
first answer's length in target tokens, capped) or from a JSONL file of {"turns": [...]}."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import DSparkError, require_text
from ..sharegpt import iter_json_array, sharegpt_path


@dataclass
class BenchRequest:
    prompt: str                     # the user message (chat) or the text (plain targets)
    prompt_ids: list[int]
    max_tokens: int


def sharegpt_conversations(limit: int, path: Path | None = None) -> list[tuple[str, str]]:
    """(first human turn, first gpt answer) of the first `limit` usable conversations."""
    path = Path(path or sharegpt_path())
    text = path.read_text(encoding="utf-8", errors="replace")
    out = []
    for _, item in iter_json_array(text, path):
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
        rows.append(require_text(turns[0], f"{path}:{k}: the first turn"))
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
