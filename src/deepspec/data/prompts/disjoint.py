"""Disjointness of a training set from the evaluation sets: normalized text, word shingles and
containment against every evaluation prompt."""
from __future__ import annotations

import bisect
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from dspark.errors import DSparkError

from .records import PromptRecord, load_prompts

EVAL_DIR_ENV = "DSPARK_EVAL_DIR"
EXPECTED_EVAL_FILES = ("gsm8k.jsonl", "math500.jsonl", "humaneval.jsonl", "mbpp.jsonl",
                       "livecodebench.jsonl", "mt-bench.jsonl")
SHINGLE_WORDS = 12          # any shared run of this many words with an eval prompt is an overlap
MIN_CONTAIN_CHARS = 50      # containment counts when both texts are at least this long

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
    return Path(__file__).resolve().parents[4]   # src/deepspec/data/prompts/disjoint.py -> the repository root


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
