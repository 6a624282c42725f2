"""Evaluation-side metrics over verification rounds (METHOD.md sections 1 and 6): reading and
writing round records, the macro average over datasets, and the calibration views of confidence
logits. The round record and every acceptance statistic (tau, acceptance per position, conditional
acceptance, ...) are defined once, in `dspark.stats`; they are re-exported here for the eval code.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from dspark.stats import (RoundRecord, accept_rate, accepted_histogram, by_source, conditional_acceptance,  # noqa: F401
                          conditional_from_accept_rate, max_proposed, mean, overall_acceptance, summarize,
                          survival_feedback, tau, tau_by_block)


def load_records(paths: Iterable[str]) -> list[RoundRecord]:
    """Round records from JSONL files (one `RoundRecord.to_dict()` per line; blank lines skipped).
    Request ids are renumbered so that requests of different files stay apart (files written by
    different processes reuse ids)."""
    import itertools
    import json
    out: list[RoundRecord] = []
    fresh = itertools.count()
    for path in paths:
        ids: dict[int, int] = {}
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = RoundRecord.from_dict(json.loads(line))
                except (ValueError, TypeError) as e:
                    raise ValueError(f"{path}:{lineno}: {e}") from None
                if r.request is not None:
                    r.request = ids.setdefault(r.request, next(fresh))
                out.append(r)
    return out


# next to a drafter's round records: {"algorithm", "weights_digest"} of the drafter that drafted them
# (dspark.drafters.checkpoint.checkpoint_digest), which `deepspec calibrate` checks against its --drafter
ROUNDS_DRAFTER = "drafter.json"


def rounds_digest(rounds_dir) -> str | None:
    """The weights digest of the drafter whose rounds `rounds_dir` holds (its drafter.json); None for
    rounds written without one (before session 52, or by a drafter without weights)."""
    import json
    from pathlib import Path
    meta = Path(rounds_dir) / ROUNDS_DRAFTER
    if not meta.is_file():
        return None
    try:
        return json.loads(meta.read_text()).get("weights_digest")
    except (ValueError, AttributeError):
        raise ValueError(f"{meta}: not a JSON object with the drafter's weights_digest") from None


def write_records(records: Iterable[RoundRecord], path: str) -> str:
    """Write round records as JSONL (the format `load_records` and `deepspec calibrate` read)."""
    import json
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r.to_dict()) + "\n")
    return path


def _mean_lists(lists: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Element-wise mean; each position averages over the lists that have a value there."""
    n = max((len(x) for x in lists), default=0)
    return [mean(x[i] for x in lists if i < len(x)) for i in range(n)]


MACRO_SCALARS = ("tau", "overall_acceptance", "draft_tokens_per_round", "drafted_tokens_per_round",
                 "tokens_per_second")
MACRO_LISTS = ("accept_rate", "conditional_acceptance", "accepted_distribution", "tau_by_block")


def macro(summaries: Sequence[dict[str, Any]] | dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Unweighted average over datasets of the scalar metrics and the per-position lists (each
    dataset counts once, whatever its number of rounds). Accepts a list or a {dataset: summary}."""
    if isinstance(summaries, dict):
        summaries = list(summaries.values())
    out: dict[str, Any] = {"datasets": len(summaries), "rounds": sum(s.get("rounds", 0) for s in summaries)}
    for key in MACRO_SCALARS:
        out[key] = mean(s.get(key) for s in summaries)
    for key in MACRO_LISTS:
        out[key] = _mean_lists([s.get(key) or [] for s in summaries])
    return out


# ------------------------------------------------------------------------ calibration dataset

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def confidence_arrays(records: Sequence[RoundRecord], gamma: int | None = None):
    """Dense view of the rounds that carry confidence logits.

    Returns (logits [n, gamma] float64 with NaN where a slot was not verified, accepted [n] int,
    attempted [n] int = effective proposed slots that have a logit, capped at gamma)."""
    rows = [r for r in records if r.confidence_logits is not None]
    if gamma is None:
        gamma = max((min(r.effective_proposed, len(r.confidence_logits)) for r in rows), default=0)
    n = len(rows)
    logits = np.full((n, gamma), np.nan)
    acc = np.zeros(n, dtype=np.int64)
    att = np.zeros(n, dtype=np.int64)
    for i, r in enumerate(rows):
        m = min(r.effective_proposed, len(r.confidence_logits), gamma)
        logits[i, :m] = r.confidence_logits[:m]
        acc[i] = r.accepted
        att[i] = m
    return logits, acc, att


def _per_slot(values: Sequence[float] | None, n: int, default: float) -> np.ndarray:
    """`values` cut or padded with `default` to n slots (all `default` when None)."""
    v = [] if values is None else [float(x) for x in list(values)[:n]]
    return np.array(v + [default] * (n - len(v)), dtype=np.float64)


def curvature(logits: np.ndarray) -> np.ndarray:
    """The calibration's curvature feature of a confidence logit z: 2 log cosh(z / 2) = softplus(z) +
    softplus(-z) - 2 log 2, 0 at z = 0, ~|z| - 1.39 far from it, slope tanh(z / 2) in (-1, 1). With it
    sigmoid(z / T + b + e curvature(z)) is beta calibration of sigmoid(z): one slope for the head's
    confident side and another for its unsure one, monotone while |e| <= 1 / T. The runtime's torch
    and C forms compute the same (dspark.drafters.dspark.curvature, qkernels.c rt_markov_sample)."""
    a = np.abs(logits)
    return a + 2.0 * np.log1p(np.exp(-a)) - 2.0 * np.log(2.0)


def calibrated_confidences(logits: np.ndarray, temperatures: Sequence[float] | None = None,
                           biases: Sequence[float] | None = None,
                           curvatures: Sequence[float] | None = None) -> np.ndarray:
    """c[:, k-1] = sigmoid(logit_k / T_k + b_k + e_k curvature(logit_k)), the calibrated conditional
    confidence of slot k (T = 1, b = 0, e = 0 past the given ones or when None); NaN stays NaN."""
    logits = np.asarray(logits, dtype=np.float64)
    return _sigmoid(_calibrated_logits(logits, temperatures, biases, curvatures))


def _calibrated_logits(logits: np.ndarray, temperatures, biases, curvatures) -> np.ndarray:
    gamma = logits.shape[-1]
    t, b = _per_slot(temperatures, gamma, 1.0), _per_slot(biases, gamma, 0.0)
    out = logits / t + b
    if curvatures is not None:
        out = out + _per_slot(curvatures, gamma, 0.0) * curvature(logits)
    return out


def runtime_confidences(records: Sequence[RoundRecord], temperatures: Sequence[float] | None = None,
                        biases: Sequence[float] | None = None, gamma: int | None = None,
                        online_rate: float = 0.0, curvatures: Sequence[float] | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(c, accepted, attempted) over `confidence_arrays`' rows, c [n, gamma] the conditional
    confidences as the runtime computes them: sigmoid(z_k / T_k + b_k + e_k curvature(z_k)), and with
    online_rate > 0 each request's online offsets (stats.survival_feedback) replayed over its rounds
    in order. A request's rounds are the consecutive records with its `request` id; records without
    one get no offsets."""
    logits, acc, att = confidence_arrays(records, gamma)
    s = _calibrated_logits(logits, temperatures, biases, curvatures)
    c = _sigmoid(s)
    if online_rate:
        g = logits.shape[1]
        rows = [r for r in records if r.confidence_logits is not None]
        offsets: list[float] = []
        current = None
        for i, r in enumerate(rows):
            if r.request is None:
                continue
            if r.request != current:
                offsets, current = [], r.request
            if offsets:
                m = min(len(offsets), g)
                c[i, :m] = _sigmoid(s[i, :m] + np.asarray(offsets[:m]))
            survival_feedback(offsets, c[i, :att[i]], r, online_rate)
    return c, acc, att


def survival_data(c: np.ndarray, acc: np.ndarray, att: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per position j (1-indexed): (predicted prefix survival a_j = prod_{i<=j} c_i, realized survival
    1[accepted >= j]) over the rounds that verified slot j."""
    a = np.cumprod(c, axis=1)
    out = {}
    for j in range(1, c.shape[1] + 1):
        mask = att >= j
        out[j] = (a[mask, j - 1], (acc[mask] >= j).astype(np.float64))
    return out


def calibration_dataset(records: Sequence[RoundRecord], temperatures: Sequence[float] | None = None,
                        gamma: int | None = None, biases: Sequence[float] | None = None,
                        online_rate: float = 0.0, curvatures: Sequence[float] | None = None
                        ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per position j (1-indexed): (predicted prefix survival a_j, realized survival 1[accepted >= j])
    over the rounds that verified slot j and carry confidence logits (`runtime_confidences`)."""
    return survival_data(*runtime_confidences(records, temperatures, biases, gamma, online_rate, curvatures))


def threshold_sweep(records: Sequence[RoundRecord], thresholds: Sequence[float],
                    temperatures: Sequence[float] | None = None, score: str = "conditional",
                    biases: Sequence[float] | None = None, online_rate: float = 0.0,
                    curvatures: Sequence[float] | None = None) -> dict[str, Any]:
    """Static confidence-threshold baseline (the paper's figure 5), replayed on recorded rounds.

    For each threshold t every round is truncated before its first slot whose score is below t
    (score "conditional": c_k = sigmoid(z_k / T_k + b_k + e_k curvature(z_k)), online offsets
    included with online_rate (replayed on the recorded outcomes); "prefix": a_k = prod_{i<=k} c_i). Acceptance inside
    the kept prefix is the recorded one (verification of slot k does not depend on later slots), so a
    round that keeps l slots accepts min(accepted, l) and wastes the rest. Counts are draft tokens only
    (no bonus). Only rounds with confidence logits take part.

    Returns lists over thresholds: "accepted_per_step", "rejected_per_step" (verified but not
    accepted), "verified_per_step", "acceptance_rate" (accepted / verified, None when nothing is
    verified), plus "thresholds" and "rounds"."""
    if score not in ("conditional", "prefix"):
        raise ValueError(f"score must be 'conditional' or 'prefix', not {score!r}")
    c, acc, att = runtime_confidences(records, temperatures, biases, online_rate=online_rate,
                                      curvatures=curvatures)
    n, gamma = c.shape
    s = np.cumprod(c, axis=1) if score == "prefix" else c
    valid = np.arange(1, gamma + 1)[None, :] <= att[:, None]
    out: dict[str, Any] = {"thresholds": [float(x) for x in thresholds], "rounds": n,
                           "accepted_per_step": [], "rejected_per_step": [], "verified_per_step": [],
                           "acceptance_rate": []}
    for thr in thresholds:
        below = valid & ~(s >= thr)                      # NaN never passes, but NaN rows are invalid
        first = np.where(below.any(axis=1), below.argmax(axis=1), gamma)
        kept = np.minimum(first, att)
        a = np.minimum(acc, kept)
        ver, acc_sum = int(kept.sum()), int(a.sum())
        out["accepted_per_step"].append(acc_sum / n if n else None)
        out["rejected_per_step"].append((ver - acc_sum) / n if n else None)
        out["verified_per_step"].append(ver / n if n else None)
        out["acceptance_rate"].append(acc_sum / ver if ver else None)
    return out
