"""Training prompt data: readers, generators, the eval disjointness check, the builder, the CLI."""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from deepspec.data import prompts as P
from dspark.errors import DSparkError

GSM_SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."
EVAL_MATH = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for "
             "her friends every day with four. How much does she make every day at the farmers' market?")
EVAL_CODE = "Write a python function to remove first and last occurrence of a given character from the string."
EVAL_CHAT = ("Compose an engaging travel blog post about a recent trip to Hawaii, highlighting cultural experiences "
             "and must-see attractions.")


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def eval_dir(tmp_path: Path) -> Path:
    d = tmp_path / "eval"
    d.mkdir()
    write_jsonl(d / "gsm8k.jsonl", [{"turns": [EVAL_MATH + GSM_SUFFIX]}])
    write_jsonl(d / "mbpp.jsonl", [{"turns": [EVAL_CODE]}])
    write_jsonl(d / "mt-bench.jsonl", [{"turns": [EVAL_CHAT, "Rewrite your previous response. Start every "
                                                              "sentence with the letter A."]}])
    return d


def sharegpt_items(n: int = 6) -> list[dict]:
    items = []
    for i in range(n):
        items.append({"id": f"conv{i}_0", "conversations": [
            {"from": "human", "value": f"Tell me an interesting fact about the number {i} and why it matters."},
            {"from": "gpt", "value": f"The number {i} is interesting because ..."},
            {"from": "human", "value": "Tell me another one."},
            {"from": "gpt", "value": "Sure ..."}]})
    items.append({"id": "code_0", "conversations": [
        {"from": "human", "value": "How do I reverse a list in Python?\n```python\nxs = [1, 2, 3]\n```"},
        {"from": "gpt", "value": "Use `xs[::-1]`:\n```python\nprint(xs[::-1])\n```"}]})
    items.append({"id": "gptfirst_0", "conversations": [
        {"from": "gpt", "value": "continuing from before ..."}, {"from": "human", "value": "thanks, go on"}]})
    items.append({"id": "empty_0", "conversations": []})
    return items


def write_sharegpt(path: Path, items, *, cut: int | None = None) -> Path:
    text = json.dumps(items, indent=2, ensure_ascii=False)
    data = text.encode("utf-8")
    path.write_bytes(data if cut is None else data[:cut])
    return path


# ----------------------------------------------------------------------------------------------- readers


def test_read_turns_jsonl(tmp_path):
    f = write_jsonl(tmp_path / "mt.jsonl", [{"turns": ["first q", "second q"]}, {"turns": ["another"]}])
    (tmp_path / "mt.jsonl").write_text(f.read_text() + "\n\n")  # trailing blank lines are fine
    recs = P.load_prompts(f)
    assert [r.user_turns for r in recs] == [["first q", "second q"], ["another"]]
    assert recs[0].messages == [{"role": "user", "content": "first q"}, {"role": "user", "content": "second q"}]
    assert recs[0].source == "mt" and recs[0].domain in P.DOMAINS
    assert len({r.id for r in recs}) == 2
    assert [r.id for r in P.load_prompts(f)] == [r.id for r in recs]  # ids are stable


def test_read_role_content_jsonl(tmp_path):
    f = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "a", "source": "mine", "domain": "math", "conversations": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}]},
        {"conversations": [{"role": "user", "content": "def f(x):\n    return x\nwhat does this python code do?"}]},
    ])
    a, b = P.load_prompts(f)
    assert a.id == "a" and a.source == "mine" and a.domain == "math"
    assert [m["role"] for m in a.messages] == ["system", "user", "user"]  # assistant turns are dropped
    assert a.user_turns == ["What is 2+2?", "And 3+3?"] and a.first_user == "What is 2+2?"
    assert a.truncated(1).user_turns == ["What is 2+2?"]
    assert b.domain == "code" and b.source == "c"


def test_read_sharegpt_array(tmp_path):
    f = write_sharegpt(tmp_path / "sg.json", sharegpt_items())
    stats = Counter()
    recs = P.load_prompts(f, stats=stats)
    ids = [r.id for r in recs]
    assert ids == [f"conv{i}_0" for i in range(6)] + ["code_0"]
    assert stats["skipped_not_user_first"] == 1 and stats["skipped_empty"] == 1 and not stats["truncated"]
    assert recs[0].user_turns == ["Tell me an interesting fact about the number 0 and why it matters.",
                                  "Tell me another one."]
    assert recs[-1].domain == "code" and recs[0].domain == "chat"


@pytest.mark.parametrize("where", ["in_string", "between_items", "after_comma", "in_key", "in_multibyte"])
def test_read_truncated_sharegpt(tmp_path, where):
    items = sharegpt_items()
    items[3]["conversations"][1]["value"] = "caf\u00e9 \u00e9t\u00e9 \u4e2d\u6587 answer"
    full = json.dumps(items, indent=2, ensure_ascii=False).encode("utf-8")
    start4 = full.index(b'"id": "conv4_0"')
    if where == "in_string":
        cut = full.index(b"interesting fact about the number 4") + 10
    elif where == "between_items":
        cut = full.rindex(b"}", 0, start4 - 1) + 1  # right after item 3's closing brace
    elif where == "after_comma":
        cut = full.index(b",", full.rindex(b"}", 0, start4 - 1)) + 1
    elif where == "in_key":
        cut = start4 + 3
    else:  # inside the 3-byte UTF-8 sequence of a CJK character in item 3, so items 0..2 remain
        cut = full.index("\u4e2d".encode()) + 1
    f = tmp_path / "cut.json"
    f.write_bytes(full[:cut])
    stats = Counter()
    recs = P.load_prompts(f, stats=stats)
    assert stats["truncated"] == 1
    expected = 3 if where == "in_multibyte" else 4
    assert [r.id for r in recs] == [f"conv{i}_0" for i in range(expected)]


@pytest.mark.parametrize("content,match", [
    ("", "empty file"),
    ("   \n\n", "empty file"),
    ('{"turns": ["ok"]}\n{"turns": ["broken"\n', r"bad\.jsonl:2: invalid JSON"),
    ('{"turns": ["ok"]}\n{"turns": []}\n', r"bad\.jsonl:2: 'turns' must be a non-empty list"),
    ('{"turns": ["ok"]}\n{"turns": "just a string"}\n', r"bad\.jsonl:2:"),
    ('{"prompt": "x"}\n', r"bad\.jsonl:1: no 'turns', 'conversations'"),
    ('{"conversations": [{"role": "robot", "content": "x"}]}\n', r"bad\.jsonl:1: .*unknown role"),
    ('[1, 2]\n', r"bad\.jsonl:1: expected a JSON object"),
    ('[{"turns": ["a"]} {"turns": ["b"]}]', r"bad\.jsonl:1: expected ',' or ']'"),
    ('[\n{"turns": ["a"]},\n{"turns": [oops]}\n]\n', r"bad\.jsonl:3: invalid JSON"),
    ('[\n{"turns": ["a"]},\n{"turns": [oops]},\n{"turns": ["c"]}\n', r"bad\.jsonl:3: invalid JSON"),
    ('[]', "no usable conversations"),
    ('{"conversations": [{"from": "gpt", "value": "hi"}]}\n', "no usable conversations"),
    ('hello world\n', r"bad\.jsonl:1: not a JSONL or JSON-array"),
])
def test_malformed_files_raise(tmp_path, content, match):
    f = tmp_path / "bad.jsonl"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(DSparkError, match=match):
        P.load_prompts(f)


def test_missing_file_raises(tmp_path):
    with pytest.raises(DSparkError, match="no such file"):
        P.load_prompts(tmp_path / "nope.jsonl")


def test_unicode_line_separators_round_trip(tmp_path):
    # json.dumps(ensure_ascii=False) leaves U+2028 unescaped; the reader must not split lines there.
    f = tmp_path / "u.jsonl"
    f.write_text(json.dumps({"turns": ["a\u2028b\x85c"]}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert P.load_prompts(f)[0].first_user == "a\u2028b\x85c"


def test_classify_domain():
    assert P.classify_domain("Write a python script that renames files, using os.rename() and a for loop") == "code"
    assert P.classify_domain("```js\nconsole.log(1)\n```") == "code"
    assert P.classify_domain("How do I sort a dict in python?", "Use:\n```python\nsorted(d)\n```") == "code"
    assert P.classify_domain("Write a poem about the sea at dawn.") == "chat"
    assert P.classify_domain("Let me know what you think of my essay.") == "chat"
    assert P.classify_domain("Solve for x: 3x + 5 = 20. How many integer solutions does x^2 < 10 have?") == "math"
    assert P.classify_domain("Solve for x: 3x + 5 = 20. How many integer solutions?", allow_math=False) == "chat"


# -------------------------------------------------------------------------------------------- generators


def test_math_generator_deterministic_and_diverse():
    a = P.generate_math_problems(1000, seed=3)
    assert a == P.generate_math_problems(1000, seed=3)
    assert a != P.generate_math_problems(1000, seed=4)
    assert len(set(a)) >= 950
    # many templates in use: the first five words vary widely
    assert len({" ".join(t.split()[:5]) for t in a}) >= 300
    assert all(len(t) > 20 for t in a)


def test_code_generator_deterministic_and_diverse():
    a = P.generate_code_tasks(1000, seed=0)
    assert a == P.generate_code_tasks(1000, seed=0)
    assert len(set(a)) >= 850
    langs = ("Python", "JavaScript", "Java", "C++", "Go", "Rust", "SQL")
    assert all(any(lang in t for t in a) for lang in langs)


def test_library_generator_spreads_over_the_library():
    """Every documented function is asked about once before any twice, the prompts are real Python
    (stubs that parse, with the function's own docstring), and the list is fixed for a seed."""
    import ast

    from deepspec.data.prompts.library_code import library_functions, library_prompts
    funcs = library_functions()
    assert len(funcs) > 1000 and len({(f.module, f.qualname) for f in funcs}) == len(funcs)
    assert all(" at 0x" not in f.signature for f in funcs)
    assert not any(f.signature.startswith("(self") for f in funcs if "." in f.qualname)   # methods as called
    n = len(funcs)
    a = P.generate_library_tasks(n + 200, seed=0)
    assert a == P.generate_library_tasks(n + 200, seed=0) and a != P.generate_library_tasks(n + 200, seed=1)
    pairs = library_prompts(n + 200, seed=0)
    assert [t for _, t in pairs] == a
    assert len(set(a)) >= 0.99 * (n + 200)   # a few functions share a name, signature and summary
    first = Counter((f.module, f.qualname) for f, _ in pairs[:n])
    assert len(first) == n          # the first pass asks about every function once
    again = {(f.module, f.qualname): t for f, t in pairs[:n]}
    assert all(t != again[(f.module, f.qualname)] for f, t in pairs[n:])   # a second ask, in another form
    stubs = [(f, t) for f, t in pairs
             if any(f"```python\ndef {f.qualname}{f.signature}:\n    {r}\"\"\"\n" in t for r in ("", "r"))]
    assert len(stubs) > 200
    for f, t in stubs:
        tree = ast.parse(t.split("```python\n")[1].split("```")[0] + "    ...\n")   # a function lacking its body
        assert isinstance(tree.body[0], ast.FunctionDef)
        assert ast.get_docstring(tree.body[0]).rstrip() == f.doc.rstrip()   # trailing blanks aside


def test_build_with_other_generators(tmp_path, eval_dir):
    """`generators` picks the source that fills code and math; the manifest says which, and only
    when it is not the default (so that rebuilding an earlier set keeps its committed manifest)."""
    sg = fake_sharegpt(tmp_path)
    out = tmp_path / "lib.jsonl"
    m = P.build_prompt_set(out, num=40, seed=0, eval_dir=eval_dir, sharegpt=sg, mix={"code": 1},
                           exclude=[], generators={"code": "library"})
    assert m["counts"]["source"].get("library-code", 0) >= 20 and "generated-code" not in m["counts"]["source"]
    assert m["generators"] == {"code": "library", "math": "templates"}
    plain = P.build_prompt_set(tmp_path / "plain.jsonl", num=40, seed=0, eval_dir=eval_dir, sharegpt=sg,
                               mix={"code": 1})
    assert "generators" not in plain and plain["counts"]["source"].get("generated-code", 0) >= 20
    with pytest.raises(DSparkError, match="unknown generator code=nope"):
        P.build_prompt_set(tmp_path / "x.jsonl", num=10, eval_dir=eval_dir, sharegpt=sg, generators={"code": "nope"})


# --------------------------------------------------------------------------------------- disjointness


def test_normalize_prompt():
    assert P.normalize_prompt("  Hello\n\tWORLD  ") == "hello world"
    assert P.normalize_prompt(EVAL_MATH + GSM_SUFFIX) == P.normalize_prompt(EVAL_MATH)
    assert P.normalize_prompt("it\u2019s  \u201cok\u201d") == "it's \"ok\""


def _check(tmp_path, eval_dir, texts):
    f = write_jsonl(tmp_path / "train.jsonl",
                    [{"id": f"t{i}", "conversations": [{"role": "user", "content": t}]} for i, t in enumerate(texts)])
    return P.check_disjoint(f, eval_dir)


CLEAN = ["What are good stretches after a long run?", "Write a Go function that merges two sorted slices.",
         "A farmer has 17 sheep and buys 5 more. How many sheep are there now?"]


def test_check_passes_clean_file(tmp_path, eval_dir):
    res = _check(tmp_path, eval_dir, CLEAN)
    assert res.ok and res.hits == [] and res.checked_records == 3
    assert res.eval_files == {"gsm8k.jsonl": 1, "mbpp.jsonl": 1, "mt-bench.jsonl": 2}
    assert "humaneval.jsonl" in res.missing_eval_files


@pytest.mark.parametrize("planted,kind", [
    (EVAL_MATH + GSM_SUFFIX, "exact"),                                   # verbatim, with the eval suffix
    (EVAL_MATH, "exact"),                                                # without the suffix
    ("  " + EVAL_CODE.upper().replace(" ", "   \n") + " ", "exact"),     # case and whitespace changed
    ("Here is my homework: " + EVAL_MATH + " Thanks a lot!", "shared 12-word run"),  # inside a longer prompt
    ("I read this somewhere: bakes muffins for her friends every day with four. How much does she make "
     "every day, honestly?", "shared 12-word run"),                      # a long exact substring only
    ("Please rewrite your previous response. Start every sentence with the letter A.", "contains eval prompt"),
    ("remove first and last occurrence of a given character from the string", "shared 12-word run"),
    ("First and last occurrence of a given character from the string", "contained in eval prompt"),  # 11 words
])
def test_check_catches_planted_eval_prompt(tmp_path, eval_dir, planted, kind):
    res = _check(tmp_path, eval_dir, CLEAN[:2] + [planted] + CLEAN[2:])
    assert not res.ok
    assert len(res.hits) == 1
    h = res.hits[0]
    assert h["id"] == "t2" and h["kind"] == kind


def test_check_ignores_number_runs(tmp_path):
    d = tmp_path / "ev"
    d.mkdir()
    write_jsonl(d / "lcb.jsonl", [{"turns": ["Sample Input 1:\n0 0 0 0 0 0 0 0 0 0 0 0 0 0\n1 2 3 4 5 6 7 8 9 10 11 12 13"
                                             "\na b c d e f g h i j k l m n"]}])
    res = _check(tmp_path, d, ["data: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 and 1 2 3 4 5 6 7 8 9 10 11 12 13 14 "
                               "and a b c d e f g h i j k l m n o p"])
    assert res.ok


def test_check_real_eval_sets_catch_a_real_prompt(tmp_path):
    d = P.resolve_eval_dir()        # ../shared/eval_datasets: the default must resolve in a checkout
    first = json.loads((d / "gsm8k.jsonl").read_text(encoding="utf-8").splitlines()[7])["turns"][0]
    res = _check(tmp_path, d, CLEAN + [first.split("\n")[0].lower()])
    assert [h["id"] for h in res.hits] == ["t3"]


def test_eval_dir_resolution(tmp_path, eval_dir, monkeypatch):
    monkeypatch.setenv(P.EVAL_DIR_ENV, str(eval_dir))
    assert P.resolve_eval_dir() == eval_dir.resolve()
    assert P.resolve_eval_dir(tmp_path) == tmp_path.resolve()  # the argument wins
    monkeypatch.setenv(P.EVAL_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(DSparkError, match="does not exist"):
        P.resolve_eval_dir()
    empty = tmp_path / "empty_eval"
    empty.mkdir()
    with pytest.raises(DSparkError, match="no \\*.jsonl"):
        P.EvalIndex.from_dir(empty)


# --------------------------------------------------------------------------------------------- builder


def fake_sharegpt(tmp_path: Path) -> Path:
    items = []
    topics = ["gardening", "chess openings", "baking bread", "learning Spanish", "saving money", "running a 10k",
              "writing a cover letter", "planning a wedding", "caring for a cat", "visiting Kyoto"]
    for i, t in enumerate(topics * 3):
        items.append({"id": f"chat{i}_0", "conversations": [
            {"from": "human", "value": f"Give me {i % 7 + 2} practical tips about {t}, version {i}."},
            {"from": "gpt", "value": "Sure: ..."}]})
    for i in range(12):
        items.append({"id": f"code{i}_0", "conversations": [
            {"from": "human", "value": f"Fix this python code #{i}:\n```python\nfor i in range({i}) print(i)\n```"},
            {"from": "gpt", "value": "```python\nfor i in range(3):\n    print(i)\n```"}]})
    items += [
        {"id": "dup_0", "conversations": [{"from": "human", "value": "Give me 2 practical tips about gardening, "
                                                                   "version 0."}]},
        {"id": "long_0", "conversations": [{"from": "human", "value": "word " * 1000}]},
        {"id": "short_0", "conversations": [{"from": "human", "value": "hi"}]},
        {"id": "leak_0", "conversations": [{"from": "human", "value": EVAL_CHAT}]},
        {"id": "leak_1", "conversations": [{"from": "human", "value": "Quick one. " + EVAL_MATH}]},
        {"id": "cjk_0", "conversations": [{"from": "human", "value": "\u4f60\u597d\uff0c\u8bf7\u5e2e\u6211\u5199"
                                                                   "\u4e00\u9996\u5173\u4e8e\u6625\u5929\u7684\u8bd7"}]},
    ]
    full = json.dumps(items, indent=1).encode().rstrip()
    assert full.endswith(b"]")
    f = tmp_path / "ShareGPT_fake.json"
    f.write_bytes(full[:-1].rstrip() + b',\n  {"id": "cut_0", "conversations": [{"from": "human", "value": "this item is cu')
    return f


def test_build_prompt_set_end_to_end(tmp_path, eval_dir):
    sg = fake_sharegpt(tmp_path)
    out = tmp_path / "out" / "train.jsonl"
    m = P.build_prompt_set(out, num=60, seed=1, eval_dir=eval_dir, sharegpt=sg)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 60 == m["prompts"]
    assert m["counts"]["domain"] == {"chat": 24, "code": 18, "math": 18}
    assert m["counts"]["source_domain"]["sharegpt/code"] == 12
    assert m["counts"]["source_domain"]["generated-code/code"] == 6
    assert m["counts"]["source"]["generated-math"] == 18
    for r in rows:
        assert set(r) == {"id", "source", "domain", "conversations"}
        assert [c["role"] for c in r["conversations"]] == ["user"]
    assert len({r["id"] for r in rows}) == 60
    ex = m["excluded"]["sharegpt"]
    assert ex["eval_overlap"] == 2 and ex["duplicate"] == 1 and ex["too_long"] == 1 and ex["too_short"] == 1
    assert ex["non_latin"] == 1
    texts = " ".join(c["content"] for r in rows for c in r["conversations"])
    assert "Hawaii" not in texts and "ducks" not in texts
    assert m["disjointness"]["ok"] and m["disjointness"]["checked_turns"] == 60
    assert m["sources"]["sharegpt"]["truncated_file"] is True
    man = json.loads((out.parent / "train.manifest.json").read_text())
    assert man["sha256"] == m["sha256"] and man["seed"] == 1
    # deterministic for a seed
    out2 = tmp_path / "again.jsonl"
    assert P.build_prompt_set(out2, num=60, seed=1, eval_dir=eval_dir, sharegpt=sg)["sha256"] == m["sha256"]
    # the built file reads back with load_prompts and passes the check
    recs = P.load_prompts(out)
    assert {r.domain for r in recs} == set(P.DOMAINS) and P.check_disjoint(recs, eval_dir).ok


def test_rebuild_in_place_keeps_the_manifest(tmp_path, eval_dir):
    """Rebuilding a committed prompt file (a new machine) leaves its manifest byte for byte, although
    the build's timing differs; a build that differs in anything else rewrites it."""
    sg = fake_sharegpt(tmp_path)
    out = tmp_path / "train.jsonl"
    P.build_prompt_set(out, num=30, seed=1, eval_dir=eval_dir, sharegpt=sg)
    man_path = tmp_path / "train.manifest.json"
    committed = json.loads(man_path.read_text())
    committed["seconds"] = 12345.0  # as if built on another machine
    man_path.write_text(json.dumps(committed, indent=2) + "\n")
    before = man_path.read_bytes()
    P.build_prompt_set(out, num=30, seed=1, eval_dir=eval_dir, sharegpt=sg)
    assert man_path.read_bytes() == before
    P.build_prompt_set(out, num=30, seed=2, eval_dir=eval_dir, sharegpt=sg)
    rebuilt = json.loads(man_path.read_text())
    assert rebuilt["seed"] == 2 and rebuilt["seconds"] != 12345.0


def test_build_excluding_an_earlier_set_asks_nothing_twice(tmp_path, eval_dir):
    """A set built to add to another (`exclude`) repeats none of its first user turns, whatever the
    turns kept after them, and the manifest names the excluded file; the same seed without the
    exclusion would have repeated some."""
    sg = fake_sharegpt(tmp_path)
    first = tmp_path / "first.jsonl"
    P.build_prompt_set(first, num=60, seed=1, eval_dir=eval_dir, sharegpt=sg, max_user_turns=2)
    firsts = {P.normalize_prompt(r.first_user) for r in P.load_prompts(first)}
    out = tmp_path / "more.jsonl"
    m = P.build_prompt_set(out, num=60, seed=1, eval_dir=eval_dir, sharegpt=sg, exclude=[first])
    more = {P.normalize_prompt(r.first_user) for r in P.load_prompts(out)}
    assert m["prompts"] == 60 and not more & firsts
    assert m["exclude"] == [{"file": str(first), "sha256": P.build._sha256(first), "prompts": 60}]
    assert sum(c.get("in_exclude_set", 0) for c in m["excluded"].values()) >= 24   # the chat share, at least
    again = tmp_path / "again.jsonl"
    P.build_prompt_set(again, num=60, seed=1, eval_dir=eval_dir, sharegpt=sg)
    assert {P.normalize_prompt(r.first_user) for r in P.load_prompts(again)} & firsts


def test_build_multi_turn_and_chat_shortfall(tmp_path, eval_dir):
    sg = fake_sharegpt(tmp_path)
    out = tmp_path / "mt.jsonl"
    m = P.build_prompt_set(out, num=200, seed=0, eval_dir=eval_dir, sharegpt=sg, max_user_turns=2)
    assert m["prompts"] == 200
    assert m["counts"]["domain"]["chat"] == m["available_sharegpt"]["chat"] < 80  # shortfall moved elsewhere
    assert m["counts"]["domain"]["code"] + m["counts"]["domain"]["math"] == 200 - m["counts"]["domain"]["chat"]


def test_build_fails_if_an_overlap_slips_through(tmp_path, eval_dir, monkeypatch):
    sg = fake_sharegpt(tmp_path)
    real_check = P.EvalIndex.check

    def planted_check(self, records):
        records = list(records)
        records[0].messages[0]["content"] = EVAL_CODE  # as if the filter had missed it
        return real_check(self, records)

    monkeypatch.setattr(P.EvalIndex, "check", planted_check)
    out = tmp_path / "bad.jsonl"
    with pytest.raises(DSparkError, match="overlap evaluation prompts"):
        P.build_prompt_set(out, num=30, seed=0, eval_dir=eval_dir, sharegpt=sg)
    assert not out.exists() and not (tmp_path / "bad.jsonl.tmp").exists()


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_build_and_check(tmp_path, eval_dir, capsys):
    from deepspec.cli import main

    sg = fake_sharegpt(tmp_path)
    out = tmp_path / "cli.jsonl"
    assert main(["prompts", "--out", str(out), "--num", "40", "--seed", "2", "--eval-dir", str(eval_dir),
                 "--sharegpt", str(sg)]) == 0
    text = capsys.readouterr().out
    assert "wrote 40 prompts" in text and "by domain: chat=16, code=12, math=12" in text
    assert main(["prompts", "--check", str(out), "--eval-dir", str(eval_dir)]) == 0
    assert "disjoint" in capsys.readouterr().out
    bad = write_jsonl(tmp_path / "leaky.jsonl", [{"turns": [EVAL_CHAT.lower()]}])
    assert main(["prompts", "--check", str(bad), "--eval-dir", str(eval_dir)]) == 1
    assert "OVERLAP" in capsys.readouterr().out
    for bad_gen, msg in (("code", "expected DOMAIN=NAME"), ("math=nope", "unknown generator math=nope")):
        assert main(["prompts", "--out", str(tmp_path / "g.jsonl"), "--num", "10", "--eval-dir", str(eval_dir),
                     "--sharegpt", str(sg), "--generators", bad_gen]) == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "g.jsonl").exists()
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"turns": ["a"]}\nnot json\n')
    assert main(["prompts", "--check", str(broken), "--eval-dir", str(eval_dir)]) == 2
    err = capsys.readouterr().err
    assert "broken.jsonl:2" in err and "Traceback" not in err


@pytest.mark.parametrize("generate", [P.generate_competition_math, P.generate_algorithm_tasks, P.generate_writing_chat],
                         ids=lambda g: g.__name__)
def test_seeded_generator_is_deterministic(generate):
    a = generate(300, 7)
    assert a == generate(300, 7)
    b = generate(300, 8)
    first = lambda items: {x if isinstance(x, str) else x[0] for x in items}   # noqa: E731  (a prompt or its turns)
    assert len(first(a)) == 300                            # distinct (first) prompts
    assert a != b and len(first(a) & first(b)) < 30
    assert generate(50, 7) == a[:50]                       # a prefix: draws do not depend on n
    state = random.getstate()
    generate(100, 1)
    assert random.getstate() == state                      # the global random state is left alone
    assert generate(0, 0) == []
