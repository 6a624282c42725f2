"""Evaluation behind `deepspec eval`: speculative decoding on benchmark prompts with a fixed block (scheduler off),
through the same engine that serving runs. Writes

  results.json                 {"drafters": {NAME: {"datasets": {DATASET: summary}, "macro": {...},
                                "confidence": {...}, "by_source": {...}}}, "settings": {...}}
                               (by_source: a combined drafter's rounds per proposal source, ngram+dspark)
  results.md                   tau per dataset and drafter side by side (the paper's Table 1 shape)
  rounds/NAME/DATASET.jsonl    every verification round (input of `deepspec calibrate`)
  rounds/NAME/drafter.json     {"algorithm", "weights_digest"}: the weights that drafted them (trained drafters)
  conditional_acceptance.png   position-wise conditional acceptance per drafter and dataset (Fig. 2)
  threshold_sweep-NAME.png     static confidence threshold sweep (Fig. 5), drafters with confidences
  reliability-NAME.png         reliability of the prefix-survival estimate (Fig. 6)
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from tqdm import tqdm

from dspark.drafters.checkpoint import calibration_of, checkpoint_digest
from dspark.errors import require_text
from dspark.files import write_text_atomic

from ..train.losses import BLOCK_ALGORITHMS
from .metrics import (ROUNDS_DRAFTER, by_source, calibration_dataset, conditional_acceptance, macro, summarize,
                      write_records)


def load_eval_prompts(path: Path, max_samples: int | None, seed: int) -> list[str]:
    """First user turn of each prompt; a fixed-seed shuffle, then the first max_samples."""
    from deepspec.data.prompts import load_prompts
    prompts = [r.first_user for r in load_prompts(str(path))]
    random.Random(seed).shuffle(prompts)
    return prompts[:max_samples] if max_samples else prompts


def drafter_name(spec: str) -> str:
    """The label of a drafter in tables, plots and record paths: a directory's name, except that a
    training run's `final` is named after its run (runs/dspark-x/final -> dspark-x) and a checkpoint
    after its run and step (runs/dspark-x/checkpoints/step_000150 -> dspark-x@step_000150)."""
    from dspark.drafters import LOOKUP_FIRST
    if spec.startswith(LOOKUP_FIRST):
        return LOOKUP_FIRST + drafter_name(spec[len(LOOKUP_FIRST):])
    p = Path(spec)
    if not p.exists():
        return spec
    p = p.resolve()
    if p.name == "final":
        return p.parent.name
    if p.parent.name == "checkpoints" and p.name.startswith("step_"):   # not the repository's checkpoints/
        return f"{p.parent.parent.name}@{p.name}"
    return p.name


def run_dataset(target, drafter, prompts: list[str], params_for, max_new_tokens: int, batch: int,
                policy: str, desc: str, sps_table=None, verification: str = "block"):
    """Generate for every prompt; returns (round records, elapsed seconds, new tokens)."""
    from dspark.engine import make_engine
    ids = [target.encode_prompt(require_text(p, "an evaluation prompt")) for p in prompts]
    engine = make_engine(target, drafter, tokens=max(map(len, ids)) + max_new_tokens, max_batch=batch,
                         policy=policy, sps_table=sps_table, verification=verification)
    seqs, records = [], []
    t0 = time.perf_counter()
    with tqdm(total=len(ids), desc=desc, unit="prompt", file=sys.stderr, leave=False) as bar:
        for i, p in enumerate(ids):
            seqs.append(engine.add_request(p, params_for(i), max_new_tokens))
        while engine.has_work:
            for ev in engine.step():
                if ev.finished:
                    bar.update(1)
    elapsed = time.perf_counter() - t0
    for s in seqs:
        records += s.rounds
    return records, elapsed, sum(s.num_new for s in seqs)


def evaluate(target, drafters: dict[str, object], datasets: dict[str, list[str]], temperature: float,
             max_new_tokens: int, seed: int, out: Path, batch: int = 1, policy: str = "fixed",
             top_p: float = 1.0, top_k: int = 0, verification: str = "block") -> dict:
    from dspark.profile import sps_for_policies
    from dspark.sampling import SamplingParams
    out.mkdir(parents=True, exist_ok=True)
    sps = sps_for_policies(policy, target)
    results = {"drafters": {}, "settings": {
        "target": target.name, "temperature": temperature, "top_p": top_p, "top_k": top_k,
        "max_new_tokens": max_new_tokens, "seed": seed, "batch": batch, "policy": policy,
        "verification": verification,
        "datasets": {k: len(v) for k, v in datasets.items()}}}
    for name, drafter in drafters.items():
        per_ds, all_records = {}, []
        (out / "rounds" / name).mkdir(parents=True, exist_ok=True)
        if getattr(drafter, "checkpoint_dir", None):   # which weights draft them (deepspec calibrate checks)
            write_text_atomic(out / "rounds" / name / ROUNDS_DRAFTER, json.dumps(
                {"algorithm": getattr(drafter, "algorithm", name),
                 "weights_digest": checkpoint_digest(drafter.checkpoint_dir)}) + "\n")
        for ds, prompts in datasets.items():
            records, elapsed, new = run_dataset(
                target, drafter, prompts, lambda i: SamplingParams(temperature, top_p, top_k, seed + i),
                max_new_tokens, batch, policy, f"{name}/{ds}", sps, verification)
            write_records(records, str(out / "rounds" / name / f"{ds}.jsonl"))
            s = summarize(records, elapsed)
            s["new_tokens"], s["elapsed_s"] = new, elapsed
            s["tokens_per_second"] = new / elapsed if elapsed > 0 else None
            per_ds[ds] = s
            all_records += records
        entry = {"datasets": per_ds, "macro": macro(per_ds), "algorithm": getattr(drafter, "algorithm", name),
                 # figure 2: every dataset's rounds pooled; a position counts once 20 rounds reach it
                 "pooled_conditional_acceptance": conditional_acceptance(all_records, min_count=20)}
        if any(r.source for r in all_records):
            entry["by_source"] = by_source(all_records)
        if any(r.confidence_logits for r in all_records):
            calib = calibration_of(drafter, greedy=temperature == 0, temperature=temperature) or {}
            entry["confidence"] = _confidence(all_records, calib.get("temperatures"), calib.get("biases"),
                                              calib.get("online_rate", 0.0), name, out, calib.get("curvatures"))
        results["drafters"][name] = entry
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown_table(results))
    _plots(results, out)
    return results


def _confidence(records, temps: list[float] | None, biases: list[float] | None, online_rate: float, name: str,
                out: Path, curvatures: list[float] | None = None) -> dict:
    """ECE / AUC / Brier of the prefix-survival estimate, raw and as the runtime computed it with the
    drafter's calibration (the request's online offsets included, replayed from the rounds), and
    with the fixed calibration alone when there is an online rate."""
    from .calibration import confidence_report
    from .plots import plot_reliability_pair, plot_threshold_sweep
    report = {"raw": confidence_report(records)}
    if temps:
        report["calibrated"] = confidence_report(records, temps, biases=biases, online_rate=online_rate,
                                                 curvatures=curvatures)
        if online_rate:
            report["online_rate"] = online_rate
            report["calibrated_fixed"] = confidence_report(records, temps, biases=biases, curvatures=curvatures)
    gamma = max(r.proposed for r in records)
    plot_threshold_sweep(records, [i / 20 for i in range(21)], out / f"threshold_sweep-{name}.png",
                         temperatures=temps, biases=biases, online_rate=online_rate or 0.0, curvatures=curvatures)
    plot_reliability_pair(calibration_dataset(records),
                          calibration_dataset(records, temps, biases=biases, online_rate=online_rate or 0.0,
                                              curvatures=curvatures),
                          out / f"reliability-{name}.png", positions=list(range(1, gamma + 1)),
                          title=f"{name}: prefix survival, raw vs calibrated")
    return report


def _plots(results: dict, out: Path) -> None:
    """The figures of a results directory, from results.json alone."""
    from .plots import plot_block_length, plot_conditional_acceptance
    curves = {name: d["pooled_conditional_acceptance"] for name, d in results["drafters"].items()}
    plot_conditional_acceptance(curves, out / "conditional_acceptance.png",
                                title=f"Conditional acceptance by position ({results['settings']['target']}, "
                                      f"T={results['settings']['temperature']})")
    # Figure 4's shape from the same rounds: tau had only the first k drafts been verified, for the
    # block drafters (their first k tokens do not depend on the block length; see tau_by_block), where
    # a slot's verdict reads only the slots before it: greedy, or the token rule (results made before
    # the block rule existed have no "verification" and used the token rule).
    settings = results["settings"]
    if settings["policy"] == "fixed" and (settings["temperature"] == 0 or settings.get("verification", "token") == "token"):
        blocks = {name: d["macro"]["tau_by_block"] for name, d in results["drafters"].items()
                  if d.get("algorithm") in BLOCK_ALGORITHMS}
        if blocks:
            ref = next((n for n, d in results["drafters"].items() if d.get("algorithm") == "dflash"), None)
            plot_block_length(blocks, out / "block_length.png", reference=ref,
                              title=f"Macro tau against block length (T={results['settings']['temperature']})")


def markdown_table(results: dict) -> str:
    names = list(results["drafters"])
    datasets = list(results["settings"]["datasets"])
    fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    settings = results["settings"]
    rule = f", {settings.get('verification', 'token')} verification" if settings["temperature"] > 0 else ""
    lines = [f"tau (accepted length, bonus included) on {settings['target']}, "
             f"T = {settings['temperature']}, fixed block{rule}\n",
             "| dataset | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for ds in datasets:
        lines.append(f"| {ds} | " + " | ".join(fmt(results["drafters"][n]["datasets"][ds]["tau"]) for n in names) + " |")
    lines.append("| **macro** | " + " | ".join(fmt(results["drafters"][n]["macro"]["tau"]) for n in names) + " |")
    lines.append("")
    lines.append("| tokens/s | " + " | ".join(
        fmt(sum(results["drafters"][n]["datasets"][ds]["new_tokens"] for ds in datasets)
            / sum(results["drafters"][n]["datasets"][ds]["elapsed_s"] for ds in datasets)) for n in names) + " |")
    for n in names:   # a combined drafter's parts, each on its own rounds (all datasets pooled)
        parts = results["drafters"][n].get("by_source")
        if parts:
            lines.append(f"\nrounds of {n} by source: " + "; ".join(
                f"{k} {100 * v['share']:.0f} % (tau {fmt(v['tau'])})" for k, v in parts.items()))
    for n in names:   # the confidences as the runtime uses them (its calibration, online offsets included)
        conf = results["drafters"][n].get("confidence")
        if conf:
            which = "calibrated" if "calibrated" in conf else "raw"
            ece = " / ".join("-" if e is None else f"{100 * e:.2f}" for e in conf[which]["ece"])
            lines.append(f"\nECE of {n}'s prefix-survival estimate ({which}), positions 1-"
                         f"{len(conf[which]['ece'])}: {ece} %")
    return "\n".join(lines) + "\n"
