"""Competition-style (MATH register) prompt generator: varied, well-formed LaTeX, and disjoint from the
evaluation prompts (determinism: test_prompts.test_seeded_generator_is_deterministic)."""
from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from deepspec.data.prompts import EvalIndex
from deepspec.data.prompts import competition_math as cm
from deepspec.data.prompts.competition_math import generate_competition_math

WRAPPER = "Please reason step by step, and put your final answer within \\boxed{}."
_ENV = re.compile(r"\\(begin|end)\{(\w+\*?)\}")


def _problems(text: str) -> str:
    return text[:-len(WRAPPER)].rstrip("\n") if text.endswith(WRAPPER) else text


def _latex_errors(text: str) -> list[str]:
    """What is unbalanced in `text`: inline-math dollars, braces, \\left/\\right, \\begin/\\end."""
    errors = []
    t = text.replace("\\$", "")
    if t.count("$") % 2:
        errors.append("odd number of $")
    depth = 0
    for ch in t.replace("\\{", "").replace("\\}", ""):
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    if depth:
        errors.append("unbalanced braces")
    if t.count("\\left") != t.count("\\right"):
        errors.append("\\left without \\right")
    stack = []
    for kind, env in _ENV.findall(t):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            errors.append(f"\\end{{{env}}} without its \\begin")
    if stack:
        errors.append(f"unclosed \\begin{{{stack[-1]}}}")
    if t.count("\\[") != t.count("\\]"):
        errors.append("unbalanced \\[ \\]")
    return errors


def test_count_and_variety():
    assert generate_competition_math(0, 0) == []
    out = generate_competition_math(2000, 0)
    assert len(out) == 2000 and all(isinstance(t, str) and t.strip() for t in out)
    assert len(set(out)) >= 0.95 * 2000
    bodies = {_problems(t) for t in out}                   # still varied without the wrapper
    assert len(bodies) >= 0.9 * 2000


def test_every_template_is_used_and_well_formed(monkeypatch):
    assert len(cm._TEMPLATES) >= 45
    names = [f.__name__ for f in cm._TEMPLATES]
    assert len(set(names)) == len(names) and all(n.startswith("_c_") for n in names)

    for f in cm._TEMPLATES:
        r = random.Random(f"check-{f.__name__}")
        texts = [f(r) for _ in range(60)]
        for t in texts:
            assert isinstance(t, str) and t.strip() and "$" in t, (f.__name__, t)
            assert not _latex_errors(t), (f.__name__, _latex_errors(t), t)
            assert "+ -" not in t and "- -" not in t and "{None}" not in t and "None" not in t, (f.__name__, t)
        assert len(set(texts)) >= 20, f.__name__         # each template varies its numbers and phrasing

    counts = Counter()

    def counting(f):
        def wrapped(r):
            counts[f.__name__] += 1
            return f(r)
        return wrapped

    monkeypatch.setattr(cm, "_TEMPLATES", tuple(counting(f) for f in cm._TEMPLATES))
    out = generate_competition_math(2000, 0)
    assert set(counts) == set(names), sorted(set(names) - set(counts))
    assert sum(counts.values()) == 2000
    for t in out:
        assert not _latex_errors(t), t


def test_wrapper_share_and_placement():
    out = generate_competition_math(2000, 3)
    wrapped = [t for t in out if "Please reason step by step" in t]
    assert 0.20 <= len(wrapped) / len(out) <= 0.50
    assert all(t.endswith("\n" + WRAPPER) and t.count(WRAPPER) == 1 for t in wrapped)


@pytest.fixture(scope="module")
def eval_index():
    return EvalIndex.from_dir(None)


def test_disjoint_from_eval_sets(eval_index):
    assert eval_index.eval_files.get("math500.jsonl", 0) >= 400      # the check is against MATH-500 itself
    out = generate_competition_math(2000, 0)
    hits = [(t, o) for t in out if (o := eval_index.overlap(t)) is not None]
    assert not hits, hits[:3]
