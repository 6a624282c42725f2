"""Regenerated conversations -> token ids with an assistant-only loss mask.

`tokenize_conversation(tokenizer, messages, max_len)` renders a conversation with the target's
chat template and marks with 1 the tokens the drafter learns to predict: the content tokens of every
assistant turn and the end-of-turn token that closes them (the target generated both); everything
else (system and user turns, role headers, the newline after the end-of-turn token) is 0.

Spans are found by rendering prefixes of the conversation: the assistant turn i starts where
render(messages[:i], add_generation_prompt=True) ends and stops where render(messages[:i+1]) ends;
the fast tokenizer's character offsets map those character spans to tokens. Inside the span, tokens
after the first end-of-turn token are template (e.g. "\\n") and get 0. Templates whose prefixes do
not render as prefixes of the whole (e.g. ones that rewrite earlier turns) fall back to locating
each assistant content string in the rendered text.

Targets without a chat template (Gemma 3 base) use plain text: for each turn the user text
(tokenized with the tokenizer's special tokens, i.e. BOS, at the start of the sequence) followed by
the answer, loss on the answer tokens (and EOS when the turn ended on EOS), exactly the prompt
format `Target.encode_prompt(prompt, chat=False)` gives the target.

`load_tokenized(path, tokenizer, max_len)` reads a regenerated JSONL, .jsonl.gz or shard directory (deepspec regenerate:
{"id", "conversations": [{"role", "content"}...], "generation": {...}}) or a pre-tokenized JSONL
({"id", "input_ids", "loss_mask"}; no tokenizer needed) and returns the usable samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dspark.errors import DSparkError

from .shards import iter_rows

__all__ = ["TokenizedSample", "tokenize_conversation", "tokenize_plain", "load_tokenized",
           "end_of_turn_ids", "has_anchor"]

END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "<|endoftext|>")


@dataclass
class TokenizedSample:
    id: str
    input_ids: list[int]
    loss_mask: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def num_loss_tokens(self) -> int:
        return sum(self.loss_mask)


def has_anchor(loss_mask: list[int]) -> bool:
    """True when some position p has loss_mask[p] = loss_mask[p + 1] = 1 (a DSpark/DFlash anchor)."""
    return any(a and b for a, b in zip(loss_mask, loss_mask[1:]))


def end_of_turn_ids(tokenizer) -> set[int]:
    """Token ids that close an assistant turn: EOS and the usual end-of-turn specials present in
    this vocabulary."""
    ids = set()
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.add(int(tokenizer.eos_token_id))
    unk = getattr(tokenizer, "unk_token_id", None)
    for tok in END_OF_TURN_TOKENS:
        # one lookup per token: get_vocab() copies the whole vocabulary (67 ms for SmolLM2's 49k
        # entries, 87 % of tokenizing a conversation when it ran once per conversation)
        i = tokenizer.convert_tokens_to_ids(tok)
        if i is not None and i != unk:
            ids.add(int(i))
    return ids


def _render(tokenizer, messages, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _encode_with_offsets(tokenizer, text: str):
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def _assistant_char_spans(tokenizer, messages: list[dict], text: str) -> list[tuple[int, int]]:
    spans = []
    search_from = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        try:
            before = _render(tokenizer, messages[:i], True) if i else None
            upto = _render(tokenizer, messages[:i + 1], False)
        except Exception:   # templates that reject a prefix (e.g. must end on a user turn)
            before = upto = None
        if before is not None and upto is not None and text.startswith(before) and text.startswith(upto) \
                and len(upto) > len(before) >= search_from:
            spans.append((len(before), len(upto)))
            search_from = len(upto)
            continue
        # fallback: find the content itself after the previous span
        content = m["content"]
        at = text.find(content, search_from) if content else -1
        if at < 0:
            raise DSparkError(f"cannot locate assistant turn {i} in the rendered chat template")
        end = at + len(content)
        spans.append((at, end))
        search_from = end
    return spans


def tokenize_conversation(tokenizer, messages: list[dict], max_len: int, sample_id: str = "",
                          finish_reasons: list[str] | None = None) -> TokenizedSample:
    """One conversation -> TokenizedSample (truncated to `max_len` tokens).

    finish_reasons (optional, one per assistant turn, as `deepspec regenerate` records them): a
    turn that ended on "length" was cut by the token limit, so the end-of-turn token the template
    appends was never generated by the target and is left out of the loss."""
    _check_messages(messages, sample_id)
    if not getattr(tokenizer, "chat_template", None):
        return tokenize_plain(tokenizer, messages, max_len, sample_id, finish_reasons)
    text = _render(tokenizer, messages, False)
    ids, offsets = _encode_with_offsets(tokenizer, text)
    eot = end_of_turn_ids(tokenizer)
    mask = [0] * len(ids)
    spans = _assistant_char_spans(tokenizer, messages, text)
    tok = 0
    for turn, (a, b) in enumerate(spans):
        while tok < len(ids) and offsets[tok][1] <= a:
            tok += 1
        closed = False
        cut = finish_reasons is not None and turn < len(finish_reasons) and finish_reasons[turn] == "length"
        while tok < len(ids) and offsets[tok][0] < b:
            if offsets[tok][0] >= a:
                if ids[tok] in eot:
                    if not closed:
                        mask[tok] = 0 if cut else 1
                    closed = True
                elif not closed:
                    mask[tok] = 1
            tok += 1
        if not closed and tok < len(ids) and ids[tok] in eot and not cut:
            mask[tok] = 1   # fallback spans stop at the content; the closing token follows it
    return TokenizedSample(sample_id, ids[:max_len], mask[:max_len])


def tokenize_plain(tokenizer, messages: list[dict], max_len: int, sample_id: str = "",
                   finish_reasons: list[str] | None = None) -> TokenizedSample:
    """No chat template: non-assistant text (BOS first), then the answer; loss on the answer."""
    _check_messages(messages, sample_id)
    ids: list[int] = []
    mask: list[int] = []
    eos = getattr(tokenizer, "eos_token_id", None)
    turn = 0
    for m in messages:
        first = not ids
        if m["role"] == "assistant":
            part = list(tokenizer(m["content"], add_special_tokens=False)["input_ids"])
            ids += part
            mask += [1] * len(part)
            reason = finish_reasons[turn] if finish_reasons is not None and turn < len(finish_reasons) else None
            if eos is not None and reason in ("eos", "stop"):
                ids.append(int(eos))
                mask.append(1)
            turn += 1
        else:
            part = list(tokenizer(m["content"], add_special_tokens=first)["input_ids"])
            ids += part
            mask += [0] * len(part)
    return TokenizedSample(sample_id, ids[:max_len], mask[:max_len])


def _check_messages(messages, sample_id: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise DSparkError(f"sample {sample_id!r}: 'conversations' must be a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise DSparkError(f"sample {sample_id!r}: every turn needs string 'role' and 'content'")


def _pretokenized(row: dict, where: str, max_len: int) -> TokenizedSample:
    ids, mask = row.get("input_ids"), row.get("loss_mask")
    if not isinstance(ids, list) or not all(isinstance(t, int) and t >= 0 for t in ids):
        raise DSparkError(f"{where}: 'input_ids' must be a list of non-negative integers")
    if mask is None:
        raise DSparkError(f"{where}: pre-tokenized samples need 'loss_mask'")
    if not isinstance(mask, list) or len(mask) != len(ids) or any(v not in (0, 1) for v in mask):
        raise DSparkError(f"{where}: 'loss_mask' must be a list of 0/1 of the same length as 'input_ids'")
    return TokenizedSample(str(row.get("id", "")), ids[:max_len], [int(v) for v in mask[:max_len]])


def load_tokenized(path, tokenizer, max_len: int, vocab_size: int | None = None,
                   stats: dict | None = None, limit: int | None = None) -> list[TokenizedSample]:
    """All usable samples of one JSONL file (or .jsonl.gz, or shard directory), in file order; with
    `limit`, the first `limit` of them (reading stops there: tokenizing 10k conversations takes ~25 s).

    Lines holding "input_ids" are pre-tokenized ({"id", "input_ids", "loss_mask"}); others are
    regenerated conversations ({"id", "conversations", "generation"}), tokenized with `tokenizer`.
    Samples without any anchor (no two consecutive loss tokens after truncation) are skipped and
    counted in stats["skipped"]. Raises DSparkError for a missing, empty or malformed file, a
    duplicate id or a token id outside `vocab_size`."""
    path = Path(path)
    if max_len < 2:
        raise DSparkError(f"max_len must be >= 2, got {max_len}")
    out: list[TokenizedSample] = []
    seen: set[str] = set()
    skipped = lines = 0
    if limit is not None and limit <= 0:
        return out
    for where, row in iter_rows(path):
        lines += 1
        if "input_ids" in row:
            s = _pretokenized(row, where, max_len)
        elif "conversations" in row:
            if tokenizer is None:
                raise DSparkError(f"{where}: conversations need the target's tokenizer")
            reasons = (row.get("generation") or {}).get("finish_reasons")
            s = tokenize_conversation(tokenizer, row["conversations"], max_len, str(row.get("id", "")),
                                      reasons if isinstance(reasons, list) else None)
        else:
            raise DSparkError(f"{where}: expected 'conversations' (regenerated) or 'input_ids' (pre-tokenized)")
        if not s.id:
            s.id = f"{path.stem}:{lines}"
        if s.id in seen:
            raise DSparkError(f"{where}: duplicate sample id {s.id!r}")
        seen.add(s.id)
        if vocab_size is not None and any(t >= vocab_size for t in s.input_ids):
            raise DSparkError(f"{where}: token id {max(s.input_ids)} outside the target's vocabulary of {vocab_size}")
        if not has_anchor(s.loss_mask):
            skipped += 1
            continue
        out.append(s)
        if limit is not None and len(out) >= limit:
            break
    if lines == 0:
        raise DSparkError(f"training data {path} is empty")
    if stats is not None:
        stats["lines"] = stats.get("lines", 0) + lines
        stats["skipped"] = stats.get("skipped", 0) + skipped
    return out
