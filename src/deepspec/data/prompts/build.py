"""`build_prompt_set`: the training prompt set (ShareGPT + generated math and code, in a domain mix)
plus a manifest next to it, checked disjoint from the evaluation sets."""
from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable

from dspark.errors import DSparkError
from dspark.files import atomic_path, write_text_atomic
from dspark.sharegpt import sharegpt_path

from .algorithm_code import generate_algorithm_tasks
from .code_tasks import generate_code_tasks
from .competition_math import generate_competition_math
from .disjoint import EvalIndex, normalize_prompt
from .library_code import generate_library_tasks
from .math_problems import generate_math_problems
from .records import DOMAINS, PromptRecord, _stable_id, load_prompts
from .writing_chat import generate_writing_chat

DEFAULT_MIX = {"chat": 0.4, "code": 0.3, "math": 0.3}


# The generators that fill a domain's share beyond ShareGPT: domain -> name -> (source, generator(n, seed)).
# The source names the prompts' origin in their ids and the manifest's counts. A generator's items are prompts
# (str) or conversations (a list of user turns). Chat has no default generator: without one, a shortfall of
# ShareGPT chat goes to code and math.
GENERATORS: dict[str, dict[str, tuple[str, Callable[[int, int], list[str] | list[list[str]]]]]] = {
    "code": {"templates": ("generated-code", generate_code_tasks),
             "library": ("library-code", generate_library_tasks),
             "algorithms": ("algorithm-code", generate_algorithm_tasks)},
    "math": {"templates": ("generated-math", generate_math_problems),
             "competition": ("competition-math", generate_competition_math)},
    "chat": {"writing": ("writing-chat", generate_writing_chat)},
}
DEFAULT_GENERATORS = {"code": "templates", "math": "templates"}
KNOWN_GENERATORS = ", ".join(f"{d}={n}" for d, names in GENERATORS.items() for n in names)   # for messages


# --------------------------------------------------------------------------------------------------
# Building the training set
# --------------------------------------------------------------------------------------------------


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
                     exclude: Iterable[str | os.PathLike] = (), generators: dict[str, str] | None = None,
                     log: Callable[[str], None] | None = None) -> dict:
    """Build a training prompt set of `num` prompts over math, code and chat and write it as JSONL,
    with `<stem>.manifest.json` next to it. Returns the manifest.

    Sources: ShareGPT V3 conversations opening with a human turn (chat or code by `classify_domain`),
    templated programming tasks (to fill the code share), templated math problems (the math share).
    Filters: empty, shorter than `min_chars` or longer than `max_chars` first turns; mostly non-Latin
    text when `english_only`; duplicates after `normalize_prompt`; anything overlapping an eval prompt
    (excluded and counted); with `exclude` (prompt files, e.g. a set already regenerated), any
    conversation whose first user turn one of them holds, so that a set built to add to another
    asks nothing twice. `generators` picks, per domain, which of `GENERATORS` fills its share
    (default: the templates; chat has none, and a named one, e.g. chat=writing, fills what ShareGPT
    lacks of the chat share instead of code and math). Generated conversations keep up to
    `max_user_turns` turns. The written file is read back and checked again; an overlap there
    fails the build and nothing is written.
    """
    t0 = time.time()
    log = log or (lambda s: None)
    out_path = Path(out_path)
    mix = dict(mix or DEFAULT_MIX)
    if num <= 0:
        raise DSparkError("--num must be positive")
    if max_user_turns < 1:
        raise DSparkError("--max-user-turns must be at least 1")
    gens = {**DEFAULT_GENERATORS, **(generators or {})}
    for domain, name in gens.items():
        if name not in GENERATORS.get(domain, {}):
            raise DSparkError(f"unknown generator {domain}={name} (known: {KNOWN_GENERATORS})")
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
    taken, exclude_info = set(), []          # first user turns of the `exclude` sets
    for path in exclude:
        recs = load_prompts(path)
        taken.update(normalize_prompt(r.first_user) for r in recs)
        exclude_info.append({"file": str(path), "sha256": _sha256(Path(path)), "prompts": len(recs)})
        log(f"excluding the {len(recs)} prompts of {path}")

    def accept(rec: PromptRecord) -> bool:
        ex = excluded.setdefault(rec.source, Counter())
        key = "\x1f".join(normalize_prompt(t) for t in rec.user_turns)
        if normalize_prompt(rec.first_user) in taken:
            ex["in_exclude_set"] += 1
            return False
        if key in seen:
            ex["duplicate"] += 1
            return False
        if any(index.overlap(t) for t in rec.user_turns):
            ex["eval_overlap"] += 1
            return False
        seen.add(key)
        return True

    def kept_turns(first: str, later: list[str]) -> list[str]:
        """`first`, then the later turns within the length limit, up to the first empty or over-long one."""
        kept = [first]
        for t in later:
            if not t.strip() or len(t) > max_chars:
                break
            kept.append(t)
        return kept

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
        turns = [{"role": "user", "content": t} for t in kept_turns(first, rec.user_turns[1:])]
        rec = PromptRecord(f"sharegpt-{rec.id}", turns, "sharegpt", rec.domain)
        if accept(rec):
            pools[rec.domain].append(rec)
    pools.pop("math")  # ShareGPT is classified chat / code only
    for d, pool in pools.items():
        random.Random(f"deepspec-pick-{d}-{seed}").shuffle(pool)
    avail_chat = len(pools["chat"])
    if avail_chat < quotas["chat"] and "chat" in gens:    # a named chat generator fills the shortfall
        log(f"only {avail_chat} chat prompts available; the rest comes from {GENERATORS['chat'][gens['chat']][0]}")
    elif avail_chat < quotas["chat"]:  # not enough chat: give the shortfall to code and math
        short = quotas["chat"] - avail_chat
        quotas["chat"] = avail_chat
        quotas["code"] += short // 2
        quotas["math"] += short - short // 2
        log(f"warning: only {avail_chat} chat prompts available; the rest goes to code and math")
    chosen: dict[str, list[PromptRecord]] = {"chat": pools["chat"][: quotas["chat"]],
                                             "code": pools["code"][: quotas["code"]], "math": []}

    def turns_of(item: str | list[str]) -> list[str] | None:
        """A generated prompt (str: one turn) or conversation (list: its user turns) as the turns kept:
        at most max_user_turns, up to the first empty or over-long one; None if the first is empty or over-long."""
        if isinstance(item, str):
            return [item]        # as always: the templates' prompts are taken whole
        turns = list(item)[:max_user_turns]
        if not turns or not turns[0].strip() or len(turns[0]) > max_chars:
            return None
        return kept_turns(turns[0], turns[1:])

    def fill(domain: str, source: str, gen: Callable[[int, int], list[str] | list[list[str]]]):
        need = quotas[domain] - len(chosen[domain])
        batch, rounds = max(need, 0), 0
        while need > 0:
            rounds += 1
            if rounds > 50:
                raise DSparkError(f"could not generate {quotas[domain]} distinct {domain} prompts")
            items = gen(batch + need, seed * 1000 + rounds)
            for item in items:
                if need <= 0:
                    break
                turns = turns_of(item)
                if turns is None:
                    excluded.setdefault(source, Counter())["too_long_or_empty"] += 1
                    continue
                rec = PromptRecord(_stable_id(source, turns), [{"role": "user", "content": t} for t in turns],
                                   source, domain)
                if accept(rec):
                    chosen[domain].append(rec)
                    need -= 1

    fill("code", *GENERATORS["code"][gens["code"]])
    fill("math", *GENERATORS["math"][gens["math"]])
    if "chat" in gens:
        fill("chat", *GENERATORS["chat"][gens["chat"]])
    records = [r for d in DOMAINS for r in chosen[d]]
    random.Random(f"deepspec-order-{seed}").shuffle(records)
    # ids must be unique in the file
    ids = Counter(r.id for r in records)
    if max(ids.values(), default=1) > 1:
        dup = next(i for i, c in ids.items() if c > 1)
        raise DSparkError(f"duplicate prompt id {dup!r} in the built set")

    with atomic_path(out_path) as tmp:       # nothing is written unless the final check passes
        with open(tmp, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
        # Final check on what was written, read back from disk.
        result = index.check(load_prompts(tmp))
        if not result.ok:
            h = result.hits[0]
            raise DSparkError(f"{len(result.hits)} training prompt(s) overlap evaluation prompts after filtering, "
                              f"e.g. {h['id']} ({h['kind']}: {h['eval_file']} #{h['eval_index']}); nothing written")

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
        **({"exclude": exclude_info} if exclude_info else {}),
        # only when not the default, so that the committed manifests of earlier sets still match
        **({"generators": gens} if gens != DEFAULT_GENERATORS else {}),
        "sources": {"sharegpt": {"path": str(sg_path), "bytes": sg_path.stat().st_size,
                                 "conversations_read": sg_stats["records"],
                                 "skipped_not_user_first": sg_stats["skipped_not_user_first"],
                                 "skipped_empty": sg_stats["skipped_empty"],
                                 "truncated_file": bool(sg_stats.get("truncated"))}},
        "disjointness": result.summary(),
        "seconds": round(time.time() - t0, 2),
    }
    man_path = out_path.with_name(out_path.stem + ".manifest.json")
    # A rebuild of a committed prompt file (a new machine) reproduces everything but the timing:
    # keep the committed manifest then, so the rebuild leaves the work tree clean.
    if not _same_but_timing(man_path, manifest):
        write_text_atomic(man_path, json.dumps(manifest, indent=2) + "\n")
    manifest["manifest_path"] = str(man_path)
    return manifest


def _same_but_timing(man_path: Path, manifest: dict) -> bool:
    """Whether the manifest at man_path records the same build as `manifest`, apart from its seconds."""
    try:
        old = json.loads(man_path.read_text())
    except (OSError, ValueError):
        return False
    new = json.loads(json.dumps(manifest))  # as it would read back (tuples become lists)
    return isinstance(old, dict) and {k: v for k, v in old.items() if k != "seconds"} == \
        {k: v for k, v in new.items() if k != "seconds"}
