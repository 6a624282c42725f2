"""Prompt records, the math / code / chat heuristic, and the readers of prompt files (JSONL turns or
conversations, ShareGPT JSON arrays, also cut short)."""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from dspark.errors import DSparkError
from dspark.sharegpt import iter_json_array

DOMAINS = ("math", "code", "chat")
_ROLE_MAP = {
    "user": "user", "human": "user",
    "assistant": "assistant", "gpt": "assistant", "chatgpt": "assistant", "bing": "assistant",
    "bard": "assistant", "model": "assistant", "bot": "assistant",
    "system": "system",
}


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass
class PromptRecord:
    """One conversation to regenerate.

    `messages` holds the system turn (if any) and the user turns in order, each `{"role", "content"}`;
    assistant turns are not kept: the target regenerates them. Training uses the first user turn and
    optionally later ones (each answered by the target in turn).
    """

    id: str
    messages: list[dict]
    source: str
    domain: str

    @property
    def user_turns(self) -> list[str]:
        return [m["content"] for m in self.messages if m["role"] == "user"]

    @property
    def first_user(self) -> str:
        turns = self.user_turns
        return turns[0] if turns else ""

    def truncated(self, max_user_turns: int | None) -> "PromptRecord":
        """The record keeping only its first `max_user_turns` user turns (None: all)."""
        if max_user_turns is None:
            return self
        out, seen = [], 0
        for m in self.messages:
            if m["role"] == "user":
                if seen >= max_user_turns:
                    break
                seen += 1
            out.append(m)
        return PromptRecord(self.id, out, self.source, self.domain)

    def to_json(self) -> dict:
        return {"id": self.id, "source": self.source, "domain": self.domain,
                "conversations": [{"role": m["role"], "content": m["content"]} for m in self.messages]}


# --------------------------------------------------------------------------------------------------
# Domain heuristic
# --------------------------------------------------------------------------------------------------

# Substrings that mark code (searched in the lowercased text; plain `in` tests keep this fast on
# tens of MB of prompts, where a large alternation regex takes tens of seconds).
_CODE_MARKERS = (
    "#include", "public static", "console.log", "std::", "traceback (most recent call last)", "system.out.print",
    "printf(", "();", "){", ") {", "#!/", "def __init__", "async def", "def ", "import numpy", "import pandas",
    "from django", "<div", "</div>", "select * from", "create table", "insert into", "self.", "=>", "!==", "===",
    "->", ":=", "elif ", "print(", "return ", "npm install", "pip install", "git clone", "sudo apt", "function(",
    "function ", ".map(", ".then(", "null;", "};", "<?php", "import react", "export default", "const ", "let ",
    "var ", "for (", "while (", "if (", "} else", "==", "+=", "[i]", "%>", "<script", "<template",
    "@override", "@app.", "__name__", "()", "string[]", "int main", "void ", "fn main", "impl ", "#define",
)
_WEAK_MARKERS = frozenset({"let ", "var ", "const ", "function ", "return ", "def ", "void ", "impl ", "if (", "==",
                           "()", ") {", "->"})
_CODE_WORDS = frozenset("""
python javascript typescript java c++ c# golang rust kotlin swift php ruby perl scala haskell matlab sql mysql
postgres postgresql sqlite mongodb bash powershell html css react reactjs vue vuejs angular node.js nodejs express
django flask fastapi laravel pandas numpy pytorch tensorflow keras api apis regex function functions class method
algorithm code coding script program programming compile compiler debug bug exception repository github gitlab
dockerfile docker kubernetes terraform json yaml xml vba query database unity arduino verilog latex jupyter webpack
npm pip frontend backend endpoint git linux terminal sdk aws jquery graphql oauth jwt redis kafka nginx selenium
android flutter dart array string integer boolean variable loop recursion typescript dataframe csv shell cli
""".split())
_LANGUAGES = frozenset("""
python javascript typescript java c++ c# golang rust kotlin swift php ruby perl scala haskell matlab sql bash
powershell html css node.js nodejs vba dart
""".split())
_CODE_PHRASES = ("shell script", "regular expression", "spring boot", "apps script", "command line", "unit test",
                 "stack trace", "source code", "data structure", "ruby on rails", ".net")
_TOKEN = re.compile(r"[a-z][a-z0-9]*(?:\+\+|#|\.js)?")
_MATH_WORDS = frozenset("""
solve equation equations integer integers fraction fractions probability percent percentage average remainder
divisible polynomial derivative integral triangle rectangle circle radius perimeter area volume prime primes digit
digits sum product quotient factor factors multiple ratio angle angles sqrt frac boxed
""".split())
_ARITH = re.compile(r"\d\s*[-+*/^=<>]\s*\(?\d")


def classify_domain(prompt: str, answer: str | None = None, *, allow_math: bool = True) -> str:
    """'code', 'math' or 'chat' for a first user turn (and, if known, the first answer to it).

    Code: the prompt holds a code fence; or code syntax together with a programming word; or several
    code-syntax markers; or a programming language and another programming word; or the answer holds
    a code fence and the prompt names a programming topic or shows code syntax. Math (only if
    `allow_math`): at least three math signs (LaTeX, arithmetic, math vocabulary) and no code. Only
    the first 4,000 characters are looked at.
    """
    text = prompt[:4000].lower()
    if "```" in text:
        return "code"
    markers = [m for m in _CODE_MARKERS if m in text]
    strong = sum(m not in _WEAK_MARKERS for m in markers)
    syntax = strong + (len(markers) - strong) // 2
    tokens = set(_TOKEN.findall(text))
    words = len(tokens & _CODE_WORDS) + sum(p in text for p in _CODE_PHRASES)
    if syntax >= 3 or (syntax >= 1 and words >= 1) or (words >= 2 and tokens & _LANGUAGES):
        return "code"
    if answer is not None and "```" in answer and (words >= 1 or syntax >= 1):
        return "code"
    if allow_math:
        score = len(tokens & _MATH_WORDS) + text.count("$") // 2 + len(_ARITH.findall(text)) + ("how many" in text)
        if score >= 3:
            return "math"
    return "chat"


# --------------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------------


def _stable_id(prefix: str, texts: Sequence[str]) -> str:
    h = hashlib.sha1("\x1f".join(texts).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{prefix}-{h}"


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line is not None else str(path)


def _parse_item(obj, path: Path, line: int | None, default_source: str, default_domain: str | None,
                allow_math: bool, stats: Counter) -> PromptRecord | None:
    """One conversation in any supported layout -> PromptRecord (None: nothing to regenerate)."""
    where = _where(path, line)
    if not isinstance(obj, dict):
        raise DSparkError(f"{where}: expected a JSON object per conversation, got {type(obj).__name__}")
    raw: list[tuple[str, str]] = []
    if "turns" in obj:
        turns = obj["turns"]
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise DSparkError(f"{where}: 'turns' must be a non-empty list of strings")
        raw = [("user", t) for t in turns]
    else:
        conv = obj.get("conversations", obj.get("messages"))
        if conv is None:
            raise DSparkError(f"{where}: no 'turns', 'conversations' or 'messages' field "
                              f"(keys: {', '.join(sorted(map(str, obj))) or 'none'})")
        if not isinstance(conv, list):
            raise DSparkError(f"{where}: 'conversations' must be a list")
        for k, m in enumerate(conv):
            if not isinstance(m, dict):
                raise DSparkError(f"{where}: message {k} is not an object")
            role = m.get("role", m.get("from"))
            content = m.get("content", m.get("value"))
            if not isinstance(role, str) or role.lower() not in _ROLE_MAP:
                raise DSparkError(f"{where}: message {k} has unknown role {role!r} "
                                  f"(expected user/assistant/system or human/gpt/system)")
            if content is None:
                content = ""
            if not isinstance(content, str):
                raise DSparkError(f"{where}: message {k} content is not a string")
            raw.append((_ROLE_MAP[role.lower()], content))
    if not raw:
        stats["skipped_empty"] += 1
        return None
    # A prompt must open with a user turn (after an optional system turn): there is nothing for a
    # leading assistant turn to answer.
    first = next((r for r, _ in raw if r != "system"), None)
    if first != "user":
        stats["skipped_not_user_first"] += 1
        return None
    messages = [{"role": r, "content": c} for r, c in raw if r != "assistant"]
    first_user = next(c for r, c in raw if r == "user")
    first_answer = next((c for r, c in raw if r == "assistant"), None)
    source = obj.get("source") if isinstance(obj.get("source"), str) and obj.get("source") else default_source
    domain = obj.get("domain") if obj.get("domain") in DOMAINS else None
    domain = domain or default_domain or classify_domain(first_user, first_answer, allow_math=allow_math)
    rid = obj.get("id", obj.get("question_id"))
    rid = str(rid) if rid is not None and str(rid) != "" else _stable_id(source, [m["content"] for m in messages])
    return PromptRecord(rid, messages, source, domain)


def _read_text(path: Path, *, tolerate_cut: bool) -> tuple[str, bool]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DSparkError(f"{path}: no such file") from None
    except OSError as e:
        raise DSparkError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text, cut = data.decode("utf-8"), False
    except UnicodeDecodeError as e:
        # A file cut inside a multi-byte character ends with an incomplete sequence.
        if tolerate_cut and e.start >= len(data) - 4 and e.reason == "unexpected end of data":
            text, cut = data[: e.start].decode("utf-8"), True
        else:
            line = data.count(b"\n", 0, e.start) + 1
            raise DSparkError(f"{path}:{line}: not valid UTF-8 ({e.reason})") from None
    return text.lstrip("\ufeff"), cut


def _iter_jsonl(path: Path, text: str) -> Iterator[tuple[int, object]]:
    # split on "\n" only: str.splitlines() also breaks at U+2028, U+0085 and friends, which JSON strings
    # may hold unescaped
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            raise DSparkError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None


def load_prompts(path: str | os.PathLike, *, source: str | None = None, domain: str | None = None,
                 allow_math: bool = True, stats: Counter | None = None) -> list[PromptRecord]:
    """Read every conversation of a prompt file (format detected from its first character).

    Formats: JSONL with `{"turns": [...]}` (user turns), JSONL with `{"conversations": [{"role",
    "content"}]}` (also `from`/`value` and a `messages` key), or a JSON array of such objects (the
    ShareGPT layout `{"id", "conversations": [{"from": "human"|"gpt"|"system", "value"}]}`); a JSON array
    cut short, like the packaged ShareGPT file, is read up to its last complete item.

    `source` / `domain` override the record fields (otherwise: the item's own fields, else the file stem
    and `classify_domain`). Conversations with no messages or opening with an assistant turn are skipped
    and counted in `stats`. Raises DSparkError naming file and line for empty or malformed files.
    """
    path = Path(path)
    stats = Counter() if stats is None else stats
    text, cut = _read_text(path, tolerate_cut=True)
    head = text.lstrip()[:1]
    if not head:
        raise DSparkError(f"{path}: empty file, no prompts")
    default_source = source or path.stem.lower()
    if head == "[":
        items = iter_json_array(text, path, stats)
    elif head == "{":
        if cut:
            raise DSparkError(f"{path}:{text.count(chr(10)) + 1}: file ends inside a UTF-8 character")
        items = _iter_jsonl(path, text)
    else:
        raise DSparkError(f"{path}:1: not a JSONL or JSON-array prompt file (starts with {head!r})")
    records: list[PromptRecord] = []
    seen_ids: Counter = Counter()
    for lineno, obj in items:
        rec = _parse_item(obj, path, lineno, default_source, domain, allow_math, stats)
        if rec is None:
            continue
        if source:
            rec.source = source
        k = seen_ids[rec.id]
        seen_ids[rec.id] += 1
        if k:  # keep ids unique and stable: the k-th repeat of an id gets a suffix
            rec.id = f"{rec.id}#{k}"
        records.append(rec)
    stats["records"] += len(records)
    if not records:
        raise DSparkError(f"{path}: no usable conversations (every item was empty or had no user turn first)")
    return records
