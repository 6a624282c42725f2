"""Algorithmic prompt generator (HumanEval / MBPP / LeetCode / Codeforces-AtCoder forms): varied, every
shown example computed correctly, and disjoint from the evaluation prompts (determinism:
test_prompts.test_seeded_generator_is_deterministic)."""
from __future__ import annotations

import ast
import doctest
import json
import random
import re
from collections import Counter
from types import SimpleNamespace

import pytest

from deepspec.data.prompts import EvalIndex
from deepspec.data.prompts import algorithm_code as ac
from deepspec.data.prompts.algorithm_code import draw_algorithm_tasks, generate_algorithm_tasks

HE_HEAD = "Write a solution to the following problem and make sure that it passes the tests:\n```python\n"


@pytest.fixture(scope="module")
def drawn():
    return draw_algorithm_tasks(2000, 0)


def _ref(d):
    o = SimpleNamespace(**d.opts)
    return lambda *args: d.task.run(o, args)


def test_variety_and_forms(drawn):
    texts = [d.text for d in drawn]
    assert len(set(texts)) == len(texts) == 2000
    shares = Counter(d.form for d in drawn)
    for form, pct in ac._FORMS:
        assert abs(shares[form] / 2000 - pct / 100) < 0.05, shares
    assert len({d.task.name for d in drawn}) >= 150
    assert len(ac._TASKS) >= 150 and len({t.name for t in ac._TASKS}) == len(ac._TASKS)
    assert all(len(t) <= 2000 for t in texts)
    assert sum("Standard Input" in d.text for d in drawn if d.form == "stdin") > 0
    assert sum("test cases follow" in d.text for d in drawn if d.form == "stdin") > 0


def test_every_reference_runs_on_its_inputs():
    for t in ac._TASKS:
        r = random.Random(f"check-{t.name}")
        for _ in range(5):
            o = ac._choose_opts(r, t)
            args = ac._draw_args(r, t, o)
            assert len(args) == len(t.params), t.name
            t.run(SimpleNamespace(**o), args)


def _he_check(d, text=None):
    """Run the stub's doctests (or its `call == value` examples) against the reference under the stub's name."""
    text = text or d.text
    assert text.startswith(HE_HEAD) and text.endswith("\n\n```")
    code = text[len(HE_HEAD):-3]
    fn = ast.parse(code).body[-1]
    assert isinstance(fn, ast.FunctionDef) and fn.name == d.task.name
    doc = ast.get_docstring(fn, clean=False)
    ns = {d.task.name: _ref(d)}
    examples = doctest.DocTestParser().get_examples(doc)
    prose = re.findall(rf"^\s*({d.task.name}\(.*\)) (?:==>|==|should return) (.*)$", doc, re.M)
    assert examples or prose
    for call, want in prose:
        assert eval(call, dict(ns)) == ast.literal_eval(want), (call, want)
    if examples:
        test = doctest.DocTest(examples, dict(ns), d.task.name, None, 0, None)
        runner = doctest.DocTestRunner(verbose=False)
        runner.run(test, out=lambda s: None)
        return runner.failures
    return 0


def test_humaneval_doctests_pass(drawn):
    he = [d for d in drawn if d.form == "humaneval"][:300]
    assert len(he) >= 200
    for d in he:
        assert _he_check(d) == 0, d.text


def test_corrupted_example_is_caught(drawn):
    """The doctest check could fail: an output changed by one is reported."""
    d = next(d for d in drawn if d.form == "humaneval" and ">>> " in d.text and d.task.ret == "int")
    lines = d.text.split("\n")
    i = next(k for k, x in enumerate(lines) if x.strip().startswith(">>>")) + 1
    lines[i] = "    " + str(int(lines[i]) + 1)
    assert _he_check(d, "\n".join(lines)) == 1


def _lc_value(s: str):
    return json.loads(s)


def test_leetcode_examples_match_reference(drawn):
    lc = [d for d in drawn if d.form == "leetcode"]
    for d in lc:
        stub = d.text.split("```python\n")[1].split("```")[0]
        ast.parse("from typing import List, Tuple\n" + stub.rstrip("\n") + "pass\n")
        assert re.search(r"def [a-z][A-Za-z]*\(self, ", stub)
        pairs = re.findall(r"Input: (.*)\nOutput: (.*)", d.text)
        assert 1 <= len(pairs) <= 3
        names = [p for p, _ in d.task.params]
        for inp, outp in pairs:
            parts = re.split(r", (?=\w+ = )", inp)
            assert [p.split(" = ")[0] for p in parts] == names
            args = [_lc_value(p.split(" = ", 1)[1]) for p in parts]
            got = _ref(d)(*args)
            assert json.loads(json.dumps(got)) == _lc_value(outp), (d.task.name, inp, outp)


def test_stdin_samples_match_reference(drawn):
    sd = [d for d in drawn if d.form == "stdin"]
    assert sd
    for d in sd:
        if "Sample Input 1:\n" in d.text:       # Codeforces: t cases, lines double-spaced
            inp, out = re.search(r"Sample Input 1:\n(.*?)\n\n\n\nSample Output 1:\n\n(.*?)\n\n\n", d.text, re.S).groups()
            lines = [x for x in inp.split("\n") if x]
            t = int(lines.pop(0))
            want = []
            for _ in range(t):
                args = ac.read_case(d.task, lines)
                want += ac._out_lines(_ref(d)(*args), d.task.ret, "cf")
            assert not lines and out.split("\n") == want, d.text
        else:                                     # AtCoder: one case per sample
            samples = re.findall(r"Sample Input \d+\n\n(.*?)\n\nSample Output \d+\n\n(.*?)(?:\n\n|$)", d.text, re.S)
            assert samples, d.text
            for inp, out in samples:
                lines = inp.split("\r\n")
                args = ac.read_case(d.task, lines)
                assert not lines
                assert out.split("\r\n") == ac._out_lines(_ref(d)(*args), d.task.ret, "atcoder"), d.text


def test_mbpp_is_one_sentence(drawn):
    for d in (d for d in drawn if d.form == "mbpp"):
        assert re.fullmatch(r"Write a (python )?function to [^\n]+\.", d.text), d.text


def test_disjoint_from_eval_sets():
    index = EvalIndex.from_dir()
    hits = [(t[:200], o) for t in generate_algorithm_tasks(1000, 3) if (o := index.overlap(t))]
    assert not hits, hits[:3]
