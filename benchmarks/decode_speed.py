"""Batch-1 greedy decoding speed: transformers' generate (KV cache), llama.cpp on the same GGUF file
(when llama-cpp-python is installed: `pip install -e '.[bench]'`), and our engine with no drafter
(plain decoding), the n-gram drafter and trained drafters, in one process on the same prompts.

    python benchmarks/decode_speed.py [--target smollm2-135m] [--drafter SPEC ...] [--max-new-tokens 128]
                                      [--prompts 6] [--sets gsm8k,humaneval,...] [--threads 2] [--sps PATH]

SPEC is `default` (the committed drafter), `ngram`, or a checkpoint directory, optionally with a
verification policy after `@` (`default@dspark`, `runs/x/final@threshold`; default `fixed`).
Runs are interleaved prompt by prompt so machine noise hits every variant alike; prints, per
variant, tokens/s over all prompts (total tokens / total time) and the median and range across
prompts, ratios to transformers and to our plain decoding, and whether each variant's tokens equal
transformers' greedy output. Our variants run the default (fast) precision; "plain, exact" runs
plain decoding with fp32 activations (the precision that matches transformers), and the speculative
variants are checked token for token against plain decoding of the same precision.

Agreement with transformers' fp32 greedy answer, per precision and for llama.cpp: whole answers
identical, and top-1 agreement per position with transformers' answer as the prefix (one forward
over prompt + answer).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ORIGINAL_SPINCOUNT = os.environ.get("GOMP_SPINCOUNT")
import dspark  # noqa: E402,F401  (before torch: sets GOMP_SPINCOUNT, see dspark/__init__.py)
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT.parent / "shared" / "eval_datasets"


DEFAULT_SETS = "gsm8k,humaneval,mt-bench,math500,mbpp"


def sample_prompts(n: int, sets: str = DEFAULT_SETS) -> list[str]:
    """First turns from the named benchmark sets, round-robin."""
    pools = []
    for name in sets.split(","):
        p = EVAL_DIR / f"{name.strip()}.jsonl"
        if not p.exists():
            raise SystemExit(f"decode_speed: no benchmark set {p}")
        pools.append([json.loads(line)["turns"][0] for line in p.read_text().splitlines()[:50]])
    return [pools[i % len(pools)][i // len(pools)] for i in range(n)]


SHARED = "plain, torch threads too"


@contextlib.contextmanager
def shared_threads():
    """Engine steps as before runtime.decode_threads: torch's pool and the C kernels' both on."""
    from dspark import engine
    lent = engine.step_threads
    engine.step_threads = lambda model: contextlib.nullcontext()
    try:
        yield
    finally:
        engine.step_threads = lent


def variant_name(spec: str, policy: str) -> str:
    from deepspec.eval.evaluate import drafter_name
    name = drafter_name(spec)
    return name if policy == "fixed" else f"{name}@{policy}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="smollm2-135m")
    ap.add_argument("--drafter", action="append", default=[],
                    help="extra variants: default, ngram or a checkpoint dir, optionally @policy")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--prompts", type=int, default=6)
    ap.add_argument("--sets", default=DEFAULT_SETS, help="comma-separated benchmark sets to draw prompts from")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-hf", action="store_true", help="skip transformers' generate")
    ap.add_argument("--no-llama-cpp", action="store_true", help="skip llama.cpp even when installed")
    ap.add_argument("--torch-rounds", action="store_true",
                    help="also run every trained drafter with its drafting round in torch (no attach_runtime): "
                         "what the C round (runtime.DraftForward) gains")
    ap.add_argument("--shared-threads", action="store_true",
                    help="also run plain decoding with torch's threads left on (no runtime.decode_threads): "
                         "what lending the threads to the C kernels gains")
    ap.add_argument("--sps", action="append", default=[], metavar="PATH",
                    help="also run every variant whose policy reads an SPS table with the table in PATH (one "
                         "profiled on a busy machine, another machine's): what the table's shape changes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM

    from dspark.drafters import load as load_drafter
    from dspark.generate import generate
    from dspark.models.loader import load_target
    from dspark.profile import sps_for_policies
    from dspark.sampling import SamplingParams
    from dspark.schedule import SPSTable

    target = load_target(args.target)                      # the default precision (fast)
    exact = load_target(args.target, precision="exact")
    # name -> (target, drafter, policy, SPS table)
    variants = {"plain": (target, load_drafter("none", target), "fixed", None),
                "ngram": (target, load_drafter("ngram", target), "fixed", None)}
    for spec in args.drafter:
        path, _, policy = spec.partition("@")
        policy = policy or "fixed"
        sps = sps_for_policies(policy, target)
        variants[variant_name(path, policy)] = (target, load_drafter(path, target), policy, sps)
        for table in args.sps if sps is not None else []:
            variants[variant_name(path, policy) + f", sps {Path(table).stem}"] = (
                target, load_drafter(path, target), policy, SPSTable.load(table))
        if args.torch_rounds:
            drafter = load_drafter(path, target)
            inner = getattr(drafter, "drafter", drafter)          # LookupFirst's trained drafter
            if getattr(inner, "runtime", None) is not None:
                inner.runtime = None
                variants[variant_name(path, policy) + ", torch round"] = (target, drafter, policy, sps)
    variants["plain, exact"] = (exact, load_drafter("none", target), "fixed", None)
    if args.shared_threads:
        variants[SHARED] = (target, load_drafter("none", target), "fixed", None)
    hf = None if args.no_hf else AutoModelForCausalLM.from_pretrained(str(target.path), dtype=torch.float32).eval()
    llama = None if args.no_llama_cpp else llama_cpp_model(args.target, args.threads)

    prompts = sample_prompts(args.prompts, args.sets)
    tps = {k: [] for k in (["transformers"] if hf else []) + (["llama.cpp"] if llama else []) + list(variants)}
    totals = {k: [0, 0.0] for k in tps}   # tokens, seconds
    decoding = {k: [0, 0.0] for k in variants}   # tokens after the first, seconds after it (prefill out)
    same = {k: 0 for k in tps}            # whole answers identical to transformers'
    top1 = {k: [0, 0] for k in ("plain", "plain, exact", "llama.cpp")}   # agreeing positions, positions
    same_as_plain = {k: 0 for k in variants}
    taus = {k: [] for k in variants}
    for i, prompt in enumerate(prompts):
        ids = target.encode_prompt(prompt)
        ref = None
        if hf is not None:
            x = torch.tensor([ids])
            t0 = time.perf_counter()
            with torch.no_grad():
                out = hf.generate(x, max_new_tokens=args.max_new_tokens, do_sample=False, use_cache=True,
                                  eos_token_id=sorted(target.eos_ids), pad_token_id=target.config.pad_token_id)
            dt = time.perf_counter() - t0
            ref = out[0, len(ids):].tolist()
            record(tps, totals, "transformers", len(ref), dt)
        if llama is not None:
            t0 = time.perf_counter()
            toks = llama_cpp_greedy(llama, ids, args.max_new_tokens, target.eos_ids)
            record(tps, totals, "llama.cpp", len(toks), time.perf_counter() - t0)
            if ref is not None:
                same["llama.cpp"] += toks == ref
                count_top1(top1["llama.cpp"], llama_cpp_argmax(llama, ids, ref), ref)
        plain_ids = {}
        for name, (tgt, drafter, policy, sps) in variants.items():
            with shared_threads() if name == SHARED else contextlib.nullcontext():
                r = generate(tgt, drafter, ids, SamplingParams(), args.max_new_tokens, policy=policy, sps_table=sps)
            record(tps, totals, name, r["num_new_tokens"], r["elapsed_s"])
            decoding[name][0] += max(r["num_new_tokens"] - 1, 0)
            decoding[name][1] += r["elapsed_s"] - r["first_token_s"]
            taus[name].append(r["tau"])
            plain_ids.setdefault(id(tgt), r["token_ids"])      # the first variant of a target is plain
            same_as_plain[name] += r["token_ids"] == plain_ids[id(tgt)]
            if ref is not None:
                same[name] += r["token_ids"] == ref
                if name in top1:
                    count_top1(top1[name], our_argmax(tgt, ids, ref), ref)
        print(f"prompt {i + 1}/{len(prompts)}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in tps.items()),
              file=sys.stderr)

    overall = {k: n / t for k, (n, t) in totals.items()}
    med = {k: statistics.median(v) for k, v in tps.items()}
    spread = {k: (min(v), max(v)) for k, v in tps.items()}
    print(f"\nbatch-1 greedy decoding, {args.target}, fp32, {args.threads} threads, {len(prompts)} prompts "
          f"from {args.sets} x up to {args.max_new_tokens} new tokens\n"
          f"(tok/s = all tokens / all time; median and min-max across prompts; x plain, decoding: the tokens after\n"
          f"the first over the time after it, without the prompt's prefill, which every variant pays alike)\n")
    base = "llama.cpp" if "llama.cpp" in overall else "transformers" if "transformers" in overall else None
    print(f"| variant | tok/s | median | min-max | x transformers | x llama.cpp | x plain | x plain, decoding | tau | "
          f"identical to plain | identical to transformers | top-1 agreement with transformers |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    dec = {k: n / t for k, (n, t) in decoding.items() if t > 0}
    for k in tps:
        x_hf = f"{overall[k] / overall['transformers']:.2f}" if "transformers" in overall else "-"
        x_ll = f"{overall[k] / overall['llama.cpp']:.2f}" if "llama.cpp" in overall else "-"
        tau = f"{statistics.mean(taus[k]):.2f}" if k in taus else "-"
        plain_same = f"{same_as_plain[k]}/{len(prompts)}" if k in same_as_plain else "-"
        ident = f"{same[k]}/{len(prompts)}" if hf is not None and k != "transformers" else "-"
        agree = f"{top1[k][0] / max(1, top1[k][1]):.4f} ({top1[k][1]} positions)" if k in top1 and hf else "-"
        x_dec = f"{dec[k] / dec['plain']:.2f}" if k in dec and "plain" in dec else "-"
        print(f"| {k} | {overall[k]:.1f} | {med[k]:.1f} | {spread[k][0]:.1f}-{spread[k][1]:.1f} | {x_hf} | "
              f"{x_ll} | {overall[k] / overall['plain']:.2f} | {x_dec} | {tau} | {plain_same} | {ident} | {agree} |")
    if base:
        print(f"\nplain / {base}: {overall['plain'] / overall[base]:.2f}; "
              f"ngram / {base}: {overall['ngram'] / overall[base]:.2f}")
    return 0


def record(tps, totals, name: str, tokens: int, seconds: float) -> None:
    tps[name].append(tokens / seconds)
    totals[name][0] += tokens
    totals[name][1] += seconds


def count_top1(counter: list[int], argmax: list[int], ref: list[int]) -> None:
    counter[0] += sum(a == b for a, b in zip(argmax, ref))
    counter[1] += len(ref)


def our_argmax(target, ids: list[int], ref: list[int]) -> list[int]:
    """Our greedy choice at each answer position, with transformers' answer as the prefix."""
    from dspark.batch import FlatBatch
    model = target.model
    cache = model.new_cache(1, len(ids) + len(ref) + 1)
    rows = list(range(len(ids) - 1, len(ids) + len(ref) - 1))
    with torch.no_grad():
        logits = model(FlatBatch.build([(0, 0, ids + ref)], "cpu", logit_rows=rows), cache).logits
    return logits.argmax(-1).tolist()


def llama_cpp_model(target: str, threads: int):
    """llama.cpp (llama-cpp-python) on the GGUF file our target was converted from: one instance to
    generate, one that keeps every position's logits (for the agreement check), or None."""
    # llama.cpp runs with its OpenMP defaults, as a user would run it: its libgomp reads the
    # environment when it loads, after torch's did with dspark's setting.
    if ORIGINAL_SPINCOUNT is None:
        os.environ.pop("GOMP_SPINCOUNT", None)
    try:
        from llama_cpp import Llama
    except ImportError:
        print("llama-cpp-python is not installed: no llama.cpp variant (pip install -e '.[bench]')",
              file=sys.stderr)
        return None
    from dspark.models.loader import NAMED_TARGETS, _gguf_path
    if target not in NAMED_TARGETS:
        return None
    return [Llama(model_path=str(_gguf_path(target)), n_threads=threads, n_threads_batch=threads, n_ctx=2048,
                  n_batch=512, logits_all=all_logits, verbose=False) for all_logits in (False, True)]


def llama_cpp_greedy(llama, ids: list[int], max_new: int, eos: set[int]) -> list[int]:
    out = []
    for tok in llama[0].generate(ids, top_k=1, temp=0.0, reset=True):
        if tok in eos:
            break
        out.append(tok)
        if len(out) >= max_new:
            break
    return out


def llama_cpp_argmax(llama, ids: list[int], ref: list[int]) -> list[int]:
    llama[1].reset()
    llama[1].eval(ids + ref)
    scores = llama[1].scores[len(ids) - 1:len(ids) + len(ref) - 1]
    return [int(row.argmax()) for row in scores]


if __name__ == "__main__":
    sys.exit(main())
