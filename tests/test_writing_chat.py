"""Two-turn open-ended chat generator (writing_chat.py): category shares and variety, well-formed turns,
extraction passages that hold what their instructions ask about, puzzles with a single answer, disjointness
from the evaluation prompts, and its use by the builder and the CLI (determinism and the prefix property:
test_prompts.test_seeded_generator_is_deterministic)."""
from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from itertools import permutations, product
from pathlib import Path

import pytest

from deepspec.data import prompts as P
from deepspec.data.prompts import writing_chat as wc

N = 3000
SLOT = re.compile(r"\{[a-z_][a-z0-9_]*\}")      # a template slot left unfilled ({"key": ...} in JSON is not one)


@pytest.fixture(scope="module")
def drawn():
    return wc.draw_writing_chat(N, 0)


def by(drawn, template):
    out = [d for d in drawn if d.template == template]
    assert out, template
    return out


# ----------------------------------------------------------------------------------------- variety


def test_shares_templates_and_variety(drawn):
    assert len({d.text for d in drawn}) == N
    cats = Counter(d.category for d in drawn)
    assert sum(p for _, p in wc.CATEGORIES) == 100
    for c, pct in wc.CATEGORIES:
        assert abs(100 * cats[c] / N - pct) < 4, cats
    names = [n for ts in wc._TEMPLATES.values() for n, _ in ts]
    assert len(names) >= 60 and len(set(names)) == len(names)
    per = Counter(d.template for d in drawn)
    assert set(per) == set(names)                               # every template is used
    assert max(per.values()) / N <= 0.08, per.most_common(3)
    # the slots make the variety: raw draws (before the distinct filter) seldom repeat
    r = random.Random("writing-chat-0")
    raw = [wc._draw(r).text for _ in range(N)]
    assert len(set(raw)) >= 0.95 * N
    assert len({" ".join(d.text.split()[:4]) for d in drawn}) >= 700      # many openings
    follows = Counter(d.follow for d in drawn)
    assert set(follows) == {"own", "category", "generic"} and min(follows.values()) > N // 6
    assert len({d.turns[1] for d in drawn}) >= 400


def test_turns_are_well_formed(drawn):
    for d in drawn:
        assert isinstance(d.turns, tuple) and len(d.turns) == 2
        for t in d.turns:
            assert t and t == t.strip() and len(t) <= 2000, (d.template, t)
            assert not SLOT.search(t), (d.template, t)
            assert "[?" not in t and not re.search(r"\[[^\]\n]*\|", t), (d.template, t)   # no unexpanded choice
            assert not re.search(r" [,.;:?!]|\?\.|\.\.", t), (d.template, t)
            assert t[0].isupper() or t[0].isdigit() or t[0] in "\"'", (d.template, t)
            assert not ("first person" in t and "second person throughout" in t), t   # one point of view
            if d.category != "extraction":                     # tables only in extraction passages
                assert "|" not in t, (d.template, t)
    assert any('"name"' in d.text for d in drawn)              # JSON keys in instructions do not trip the slot check
    assert SLOT.search(wc._x(random.Random(0), "Write about {x}.", x="{y}"))   # the check would catch a slot


def test_generate_returns_the_drawn_turns():
    assert wc.generate_writing_chat(40, 2) == [list(d.turns) for d in wc.draw_writing_chat(40, 2)]


# ------------------------------------------------------------------------------------------ extraction


def test_extraction_passages_hold_the_facts(drawn):
    ex = [d for d in drawn if d.category == "extraction"]
    assert len(ex) > 300
    for d in ex:
        for fact in d.slots["must_show"]:
            assert fact in d.text, (d.template, fact, d.text)
    for d in by(drawn, "company_figures"):
        recs = d.slots["records"]
        for rec in recs:         # each record in one line or sentence, with all its values
            assert any(rec["name"] in x and rec["ceo"] in x and f"{rec['revenue']} million" in x
                       and f"{rec['profit']} million" in x for x in re.split(r"\n|(?<=\.) (?=[A-Z])", d.text)), rec
        assert len({x["profit"] for x in recs}) == len(recs)                    # "largest profit" is unique
        assert len({x["profit"] / x["revenue"] for x in recs}) == len(recs)
    for d in by(drawn, "event_schedule"):
        assert d.slots["city"] in {x["city"] for x in d.slots["records"]}
    for d in by(drawn, "apartment_listings"):
        fit = [x for x in d.slots["records"] if x["rent"] <= d.slots["budget"] and x["pets"]]
        assert 0 < len(fit) < len(d.slots["records"])
    for d in by(drawn, "sales_table"):
        assert len({sum(v) for v in d.slots["values"]}) == len(d.slots["stores"])
    for d in by(drawn, "grades"):
        assert len({sum(x) for x in d.slots["scores"]}) == len(d.slots["students"])
    for d in by(drawn, "meeting_notes"):
        for it in d.slots["items"]:
            assert any(it["owner"] in line and it["task"] in line and it["due"] in line for line in d.text.split("\n"))
    for d in by(drawn, "book_records"):
        for rec in d.slots["records"]:
            assert any(rec["title"] in x and rec["author"] in x and str(rec["year"]) in x for x in d.text.split("\n")) \
                or (rec["title"] in d.text and rec["author"] in d.text)


def test_word_counts_are_right(drawn):
    for d in by(drawn, "word_count"):
        passage = d.slots["passage"]
        assert passage in d.text
        for w, c in d.slots["counts"].items():
            assert c >= 1
            assert len(re.findall(rf"(?<![A-Za-z']){re.escape(w)}(?![A-Za-z'])", passage, re.I)) == c, (w, passage)
            assert f'"{w}"' in d.text


# ------------------------------------------------------------------------------------------- reasoning


def test_ordering_puzzles_have_one_answer(drawn):
    for d in by(drawn, "ordering")[:120]:
        more, less = wc._ORDER_RELS[d.slots["rel"]][:2]
        pairs = []
        for st in d.slots["statements"]:
            assert st in d.text
            m = re.fullmatch(rf"(\w+) ({re.escape(more)}|{re.escape(less)}) (\w+)\.", st)
            a, rel, b = m.groups()
            pairs.append((a, b) if rel == more else (b, a))
        names = sorted({x for p in pairs for x in p})
        orders = [p for p in permutations(names) if all(p.index(a) < p.index(b) for a, b in pairs)]
        assert len(orders) == 1, d.text
        o, k = list(orders[0]), d.slots["k"]
        want = {"top": o[0], "bottom": o[-1], "kth": o[k - 1], "all": o}[d.slots["kind"]]
        assert d.slots["answer"] == want


def _family_relation(text: str, who: str, whom: str) -> str:
    """Parse the stated facts and name `who`'s relation to `whom` (who's sex must be stated)."""
    parent, female = {}, {}
    for p, c, rel in re.findall(r"(\w+) is (\w+)'s (mother|father)\.", text):
        parent[c], female[p] = p, rel == "mother"
    for c, rel, p in re.findall(r"(\w+) is the (daughter|son) of (\w+)\.", text):
        parent[c], female[c] = p, rel == "daughter"
    for p, rel, c in re.findall(r"(\w+)'s (daughter|son) is (\w+)\.", text):
        parent[c], female[c] = p, rel == "daughter"
    sibling = {s: (x, rel == "sister") for s, x, rel in re.findall(r"(\w+) is (\w+)'s (sister|brother)\.", text)}

    def up(a, b):       # generations from b up to a, or None
        n, x = 0, b
        while x in parent:
            x, n = parent[x], n + 1
            if x == a:
                return n
        return None

    if who in sibling:
        x, fem = sibling[who]
        return "great-" * (up(x, whom) - 1) + ("aunt" if fem else "uncle")
    g, down = up(who, whom), False
    if g is None:
        g, down = up(whom, who), True
    fem = female[who]
    base = ("daughter" if fem else "son") if down else ("mother" if fem else "father")
    return base if g == 1 else "great-" * (g - 2) + "grand" + base


def test_family_puzzles_have_one_answer(drawn):
    for d in by(drawn, "family"):
        s = d.slots
        for f in s["facts"]:
            assert f in d.text
        assert _family_relation(d.text, s["who"], s["whom"]) == s["answer"], d.text


def test_compass_and_weekday_answers(drawn):
    dirs = ["north", "east", "south", "west"]
    for d in by(drawn, "compass"):
        pos = dirs.index(d.slots["start"])
        for step in d.slots["steps"]:
            assert step in d.text
            if re.search(r"all the way round|steps forward|paces ahead", step):
                continue
            if re.search(r"around|180", step):
                pos += 2
            elif re.search(r"right|clockwise", step) and "anticlockwise" not in step:
                pos += 1
            else:
                assert re.search(r"left|anticlockwise", step), step
                pos -= 1
        assert dirs[pos % 4] == d.slots["answer"]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    for d in by(drawn, "weekday"):
        s = d.slots
        assert s["anchor_day"] in d.text
        assert days[(days.index(s["anchor_day"]) - s["anchor"] + s["target"]) % 7] == s["answer"]


def _holds(q, x, y, model):
    xs = [t for t in model if x in t]
    if q == "all":
        return all(y in t for t in xs)
    if q == "no":
        return not any(y in t for t in xs)
    if q == "some":
        return any(y in t for t in xs)
    return any(y not in t for t in xs)     # some_not


def test_syllogism_answers_by_brute_force(drawn):
    """Every form's answer, checked over all models: sets of the 8 kinds of member, each group non-empty."""
    kinds = [frozenset(c for c, b in zip("ABC", bits) if b) for bits in product((0, 1), repeat=3)]
    models = [m for k in range(1, 257) if (m := [kinds[i] for i in range(8) if k >> i & 1])
              and all(any(g in t for t in m) for g in "ABC")]
    for prem, concl, answer in wc.SYLLOGISMS:
        ok = [_holds(*concl, m) for m in models if all(_holds(*p, m) for p in prem)]
        assert ok
        assert answer == ("true" if all(ok) else "false" if not any(ok) else "uncertain"), (prem, concl)
    for d in by(drawn, "syllogism"):
        prem, _, answer = wc.SYLLOGISMS[d.slots["form"]]
        assert d.slots["answer"] == answer
        for q, a, b in prem:
            assert wc._quant(q, d.slots["terms"][a], d.slots["terms"][b]) in d.text


def test_counting_puzzles(drawn):
    for d in by(drawn, "odd_one_out"):
        items, groups = d.slots["items"], wc._ODD_GROUPS
        homes = {i: [g for g, xs in groups.items() if i in xs] for i in items}
        assert all(len(h) == 1 for h in homes.values())
        count = Counter(h[0] for h in homes.values())
        assert [i for i in items if count[homes[i][0]] == 1] == [d.slots["answer"]]
        assert ", ".join(items) in d.text
    for d in by(drawn, "handshakes"):
        s, nums = d.slots, [int(x) for x in re.findall(r"\d+", d.text)]
        if s["kind"] == "reverse":
            assert nums == [s["answer"] * (s["answer"] - 1) // 2]
        else:
            assert nums == [s["n"]] and s["answer"] == s["n"] * (s["n"] - 1) // (2 if s["kind"] == "handshakes" else 1)
    for d in by(drawn, "pigeonhole"):       # worst case by enumeration: the most you can draw and still miss
        s = d.slots
        cols, cnt = s["colours"], s["counts"]
        for c, k in zip(cols, cnt):
            assert f"{k} {c}" in d.text
        goal = {"pair": lambda v: max(v) >= 2, "each": lambda v: min(v) >= 1,
                "two_of": lambda v: any(x >= 2 for x, c in zip(v, cols) if f"two {c}" in d.text)}[s["kind"]]
        worst = max(sum(v) for v in product(*(range(k + 1) for k in cnt)) if not goal(v))
        assert worst + 1 == s["answer"], d.text
    for d in by(drawn, "heads_legs"):
        s = d.slots
        (la, lb), (x, y) = s["each"], s["counts"]
        h, legs = (int(v) for v in re.findall(r"(\d+) \w+ and (\d+)", d.text)[0])
        sols = [(a, h - a) for a in range(h + 1) if a * la + (h - a) * lb == legs]
        assert sols == [(x, y)] and s["answer"] == (y if s["asked"] == s["kinds"][1] else x)
    for d in by(drawn, "queue"):
        s = d.slots
        want = {"total": lambda: s["front"] + s["back"] - 1, "from_back": lambda: s["total"] - s["front"] + 1,
                "behind": lambda: s["total"] - s["ahead"] - 1}[s["kind"]]()
        assert want == s["answer"] > 0
    for d in by(drawn, "age_riddle"):
        s = d.slots
        if s["kind"] == "twice":
            assert s["answer"] + s["later"] == 2 * (s["answer"] - s["earlier"]) and s["answer"] > s["earlier"]
        else:
            assert 2 * (s["answer"] + s["later"]) + s["gap"] == s["total"] and str(s["total"]) in d.text


# -------------------------------------------------------------------------------------- disjointness


def test_disjoint_from_eval_sets(drawn):
    index = P.EvalIndex.from_dir()
    hits = [(d.template, k, t[:120], o) for d in drawn for k, t in enumerate(d.turns) if (o := index.overlap(t))]
    assert not hits, hits[:3]


# ------------------------------------------------------------------------------------------- building


def _tiny_inputs(tmp_path: Path) -> tuple[Path, Path]:
    ev = tmp_path / "eval"
    ev.mkdir()
    (ev / "mt-bench.jsonl").write_text(json.dumps({"turns": ["Write a haiku about a quiet harbour at dawn.",
                                                             "Now make it rhyme."]}) + "\n")
    sg = tmp_path / "sharegpt.json"
    sg.write_text(json.dumps([{"id": f"c{i}", "conversations": [
        {"from": "human", "value": f"What should I pack for a {i + 2}-day hike in the rain?"},
        {"from": "gpt", "value": "..."}]} for i in range(3)]))
    return ev, sg


def test_build_fills_the_chat_share(tmp_path):
    ev, sg = _tiny_inputs(tmp_path)
    out = tmp_path / "chat.jsonl"
    m = P.build_prompt_set(out, num=30, seed=0, eval_dir=ev, sharegpt=sg, mix={"chat": 1},
                           generators={"chat": "writing"}, max_user_turns=2)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 30 and m["counts"]["domain"] == {"chat": 30}
    gen = [x for x in rows if x["source"] == "writing-chat"]
    assert len(gen) == 30 - m["available_sharegpt"]["chat"] == 27
    for x in gen:
        turns = [c["content"] for c in x["conversations"]]
        assert [c["role"] for c in x["conversations"]] == ["user", "user"] and x["domain"] == "chat"
        assert x["id"] == "writing-chat-" + hashlib.sha1("\x1f".join(turns).encode()).hexdigest()[:12]
    assert m["generators"] == {"code": "templates", "math": "templates", "chat": "writing"}
    assert m["user_turns"] == 3 + 27 * 2 and m["disjointness"]["ok"]      # the ShareGPT ones have one turn
    # one user turn: the same first turns, ids from the first turn alone
    one = P.build_prompt_set(tmp_path / "one.jsonl", num=30, seed=0, eval_dir=ev, sharegpt=sg, mix={"chat": 1},
                             generators={"chat": "writing"}, max_user_turns=1)
    rows1 = [json.loads(x) for x in (tmp_path / "one.jsonl").read_text().splitlines()]
    gen1 = [x for x in rows1 if x["source"] == "writing-chat"]
    assert len(gen1) == 27 and all(len(x["conversations"]) == 1 for x in gen1)
    assert {x["conversations"][0]["content"] for x in gen1} == {x["conversations"][0]["content"] for x in gen}
    assert all(x["id"] == P.records._stable_id("writing-chat", [x["conversations"][0]["content"]]) for x in gen1)
    assert one["generators"]["chat"] == "writing"
    # without a chat generator the old rule holds: the shortfall goes to code and math
    plain = P.build_prompt_set(tmp_path / "plain.jsonl", num=30, seed=0, eval_dir=ev, sharegpt=sg, mix={"chat": 1})
    assert plain["counts"]["domain"]["chat"] == 3 and "writing-chat" not in plain["counts"]["source"]
    assert "generators" not in plain


def test_cli_accepts_chat_writing(tmp_path, capsys):
    from deepspec.cli import main

    ev, sg = _tiny_inputs(tmp_path)
    out = tmp_path / "cli.jsonl"
    assert main(["prompts", "--out", str(out), "--num", "12", "--eval-dir", str(ev), "--sharegpt", str(sg),
                 "--mix", "chat=1", "--generators", "chat=writing", "--max-user-turns", "2"]) == 0
    assert "writing-chat=9" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["prompts", "--help"])
    assert "chat=writing" in capsys.readouterr().out
