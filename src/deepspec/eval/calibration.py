"""Confidence calibration: ECE / ROC-AUC / Brier of prefix-survival estimates, Sequential
Temperature Scaling (STS, METHOD.md section 4) and its per-position-bias variant, plus the
`deepspec calibrate` command.

The confidence head gives, per draft slot k, a logit z_k of c_k = P(slot k survives | slots < k
survived). Calibrated, c_k = sigmoid(z_k / T_k + b_k + e_k curvature(z_k)) (metrics.curvature:
2 log cosh(z / 2)) and the prefix-survival estimate is
a_j = prod_{i<=j} c_i; the realized survival of slot j in a round is 1[accepted >= j], observed for the
slots that were verified (metrics.py's conventions: slots after an accepted EOS are not observations).

Every method fits position by position, left to right, over the rounds that verified slot k, with
the parameters of slots 1..k-1 already fixed. Positive temperatures keep the order of each slot's
confidences; so does a bias, and so does a curvature with |e_k| <= 1 / T_k (the fit keeps to it).

- "sts" (the paper's): b_k = 0, T_k minimises the ECE (20 equal-width bins) of a_k against the
  realized survival at k. A temperature only stretches logits around 0, so a head whose mean
  confidence is off at a position (a level shift) stays off.
- "sts-bias" (default): (T_k, b_k) minimise the Bernoulli negative log-likelihood of a_k. The bias
  removes the level shift; the NLL is a proper score, smooth in (T, b) and stable with few rounds,
  where the ECE of a 2-D fit would chase the noise of its bins.
- "sts-beta": (T_k, b_k, e_k) by the same likelihood, the curvature e_k letting the head's confident
  and unsure logits take different slopes (beta calibration of sigmoid(z)): a head can be right on
  average at a position and still over-confident at one end, which no (T, b) removes.

calibration.json (written next to the drafter, read by the runtime for `temperatures`, `biases` and
`curvatures`; a file without "biases" or "curvatures" means all zeros):
    {"method": "sts-bias" | "sts" | "sts-beta", "temperatures": [T_1..T_gamma], "biases": [b_1..b_gamma],
     "curvatures": [e_1..e_gamma] (sts-beta only),
     "ece_before": [...], "ece_after": [...], "num_rounds": N, ...extra diagnostics (see `calibrate`),
     "greedy": {the same keys},                                   (optional)
     "behind_lookup": {the same keys, "greedy" included}}         (optional; either part alone too)
"online_rate" (optional, 0 when absent): the step of each request's online correction at run time
(dspark.stats.survival_feedback: the request's own verified rounds shift its later confidences, per
position). `calibrate` picks it after the fit, by the likelihood of the fit rounds with each
request's offsets replayed over its rounds (round records carry their request), from ONLINE_RATES.
A fixed (T, b) fits the average prompt; a request from a domain the calibration rounds under-
represent (math, greedy loops) keeps its own level, which the offsets follow.
The top level is fitted on rounds verified by sampling (temperature > 0) and the optional "greedy"
section on rounds verified greedily (`deepspec calibrate --regime greedy`): there a draft token
survives only as the target's argmax, a different event, usually likelier for a confident target
and less likely for an unsure one, so one fit cannot be calibrated for both. The runtime picks the
section by each request's temperature (the top level when there is no greedy section).
"behind_lookup" is a whole calibration of the same form for the drafter running behind n-gram lookup
(`ngram+dspark`, the SmolLM2 default): it drafts only where lookup found nothing, so it never sees the
greedy loops that lookup takes, and a fit on its rounds alone differs (`deepspec calibrate
--behind-lookup`, fitted on the rounds of an `ngram+` evaluation). It may hold one regime only; the
rest of the file then calibrates the other one there.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dspark.files import write_text_atomic

from .metrics import (RoundRecord, _sigmoid, calibrated_confidences, calibration_dataset, confidence_arrays,
                      curvature, runtime_confidences, survival_data)

N_BINS = 20
DEFAULT_GRID = tuple(np.exp(np.linspace(math.log(0.05), math.log(20.0), 161)).tolist())
# sts-bias: the coarse (T, b) grid is every 8th temperature of DEFAULT_GRID (steps of x1.35) times
# these biases (steps of 0.5), then zoomed in around its optimum: the NLL is smooth, so a finer
# coarse grid would cost more for the same answer.
STS_BIAS_GRID = DEFAULT_GRID[::8]
BIAS_GRID = tuple(np.linspace(-4.0, 4.0, 17).tolist())
# sts-beta: the curvature's coarse grid (steps of 0.25; only |e| <= 1 / T takes part, then zooms)
CURVATURE_GRID = tuple(np.linspace(-1.0, 1.0, 9).tolist())
METHODS = ("sts-bias", "sts", "sts-beta")
# the online rates `calibrate` chooses from (0 = the fixed calibration alone)
ONLINE_RATES = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5)


# ------------------------------------------------------------------------------ scores

def ece(pred, realized, n_bins: int = N_BINS) -> float | None:
    """Expected calibration error: sum over equal-width bins of (bin count / N) * |mean pred - mean
    realized|. Predictions are clipped to [0, 1]; a prediction of exactly 1 falls in the last bin."""
    pred = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(realized, dtype=np.float64).ravel()
    if pred.size == 0:
        return None
    return float(_ece_columns(pred[:, None], y, n_bins)[0])


def _ece_columns(pred: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """ECE of every column of pred [n, m] against y [n] at once."""
    n, m = pred.shape
    p = np.clip(pred, 0.0, 1.0)
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1) + n_bins * np.arange(m)[None, :]
    bins = bins.ravel()
    sum_p = np.bincount(bins, weights=p.ravel(), minlength=n_bins * m)
    sum_y = np.bincount(bins, weights=np.broadcast_to(y[:, None], (n, m)).ravel(), minlength=n_bins * m)
    return np.abs(sum_p - sum_y).reshape(m, n_bins).sum(axis=1) / n


def ece_noise_floor(pred, n_bins: int = N_BINS, draws: int = 200, seed: int = 0) -> float | None:
    """The ECE a perfectly calibrated head would show with these predictions on this many rounds:
    the mean ECE over `draws` simulated outcomes y ~ Bernoulli(pred). Measured ECE near it is
    sampling noise; on ~7k rounds at a survival rate near 0.4 it is ~1.6 % (20 bins), so an ECE
    target below that needs more rounds, not a better fit. Rounds of one prompt are correlated,
    so the floor of real data lies somewhat above this."""
    p = np.clip(np.asarray(pred, dtype=np.float64).ravel(), 0.0, 1.0)
    if p.size == 0:
        return None
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(draws):
        total += float(_ece_columns(p[:, None], (rng.random(p.size) < p).astype(np.float64), n_bins)[0])
    return total / draws


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties get the mean of the ranks they span."""
    order = np.argsort(x, kind="mergesort")
    _, inverse, counts = np.unique(x[order], return_inverse=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    avg = starts + (counts + 1) / 2.0
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = avg[inverse]
    return ranks


def auc(scores, labels) -> float | None:
    """ROC-AUC via the Mann-Whitney rank statistic (ties count one half); None if one class only."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def brier(pred, realized) -> float | None:
    """Mean squared error of probabilities against 0/1 outcomes."""
    p = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(realized, dtype=np.float64).ravel()
    return float(np.mean((p - y) ** 2)) if p.size else None


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return float(sum(vals) / len(vals)) if vals else None


def confidence_report(records: Sequence[RoundRecord], temperatures: Sequence[float] | None = None,
                      gamma: int | None = None, n_bins: int = N_BINS,
                      biases: Sequence[float] | None = None, online_rate: float = 0.0,
                      curvatures: Sequence[float] | None = None) -> dict[str, Any]:
    """Calibration of the prefix-survival estimate a_j (with `temperatures`, `biases` and
    `curvatures`, raw if None; with online_rate, each request's online offsets replayed as the
    runtime applies them).

    Returns lists indexed by position (element i = position i+1): "position", "n", "ece",
    "ece_floor" (ece_noise_floor), "auc", "brier", "mean_predicted", "mean_realized"; "ece_mean"
    (mean over positions with data) and "pooled" (the same scores over all (round, position) pairs
    together)."""
    data = calibration_dataset(records, temperatures, gamma, biases, online_rate, curvatures)
    return _report(data, n_bins)


def _report(data: dict[int, tuple[np.ndarray, np.ndarray]], n_bins: int = N_BINS) -> dict[str, Any]:
    rep: dict[str, Any] = {k: [] for k in ("position", "n", "ece", "ece_floor", "auc", "brier",
                                           "mean_predicted", "mean_realized")}
    for j in sorted(data):
        p, y = data[j]
        rep["position"].append(j)
        rep["n"].append(int(p.size))
        rep["ece"].append(ece(p, y, n_bins))
        rep["ece_floor"].append(ece_noise_floor(p, n_bins))
        rep["auc"].append(auc(p, y))
        rep["brier"].append(brier(p, y))
        rep["mean_predicted"].append(float(p.mean()) if p.size else None)
        rep["mean_realized"].append(float(y.mean()) if y.size else None)
    rep["ece_mean"] = _mean(rep["ece"])
    if data:
        p_all = np.concatenate([data[j][0] for j in data])
        y_all = np.concatenate([data[j][1] for j in data])
    else:
        p_all = y_all = np.zeros(0)
    rep["pooled"] = {"n": int(p_all.size), "ece": ece(p_all, y_all, n_bins), "auc": auc(p_all, y_all),
                     "brier": brier(p_all, y_all)}
    return rep


# ------------------------------------------------------------------------------- STS fits

def _fit_sequential(logits: np.ndarray, accepted: np.ndarray, attempted: np.ndarray,
                    best) -> tuple[list[float], list[float], list[float]]:
    """The left-to-right loop of every method: for k = 1..gamma, (T_k, b_k, e_k) = best(prev, z, y)
    with prev = a_{k-1} (slots < k calibrated as fitted), z = the slot-k logits and y = 1[accepted
    >= k], over the rounds that verified slot k. A slot with no data keeps T = 1, b = 0, e = 0."""
    n, gamma = logits.shape
    fit: list[tuple[float, float, float]] = []
    prev_all = np.ones(n)
    for k in range(1, gamma + 1):
        mask = attempted >= k
        if not mask.any():  # no later slot has data either
            fit += [(1.0, 0.0, 0.0)] * (gamma - k + 1)
            break
        t, b, e = best(prev_all[mask], logits[mask, k - 1], (accepted[mask] >= k).astype(np.float64))
        fit.append((t, b, e))
        # a_k over ALL rows with slot k (NaN elsewhere is harmless: those rows never reach k+1)
        prev_all = prev_all * calibrated_confidences(logits[:, k - 1:k], [t], [b], [e])[:, 0]
    temps, biases, curvatures = (list(x) for x in zip(*fit))
    return temps, biases, curvatures


def _best_temperature(prev: np.ndarray, z: np.ndarray, y: np.ndarray, grid: np.ndarray,
                      n_bins: int) -> tuple[float, float]:
    """argmin_T ECE(prev * sigmoid(z / T)) over `grid`; ties go to the T closest to 1."""
    a = prev[:, None] * _sigmoid(z[:, None] / grid[None, :])
    e = _ece_columns(a, y, n_bins)
    best = e.min()
    cand = np.flatnonzero(e <= best + 1e-12)
    i = cand[np.argmin(np.abs(np.log(grid[cand])))]
    return float(grid[i]), float(e[i])


def _temperature_grid(grid: Sequence[float]) -> np.ndarray:
    grid = np.asarray(sorted(float(t) for t in grid), dtype=np.float64)
    if grid.size == 0 or not (grid > 0).all() or not np.isfinite(grid).all():
        raise ValueError("STS temperature grid must be non-empty, finite and positive")
    return grid


def fit_sts_arrays(logits: np.ndarray, accepted: np.ndarray, attempted: np.ndarray,
                   grid: Sequence[float] = DEFAULT_GRID, refine: int = 41,
                   n_bins: int = N_BINS) -> list[float]:
    """STS on dense arrays (see `metrics.confidence_arrays`). A slot with no data keeps T = 1."""
    grid = _temperature_grid(grid)

    def best(prev, z, y):
        t, _ = _best_temperature(prev, z, y, grid, n_bins)
        if refine and grid.size > 1:  # finer log grid between the neighbours of the coarse optimum
            i = int(np.searchsorted(grid, t))
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
            fine = np.exp(np.linspace(math.log(lo), math.log(hi), refine))
            t, _ = _best_temperature(prev, z, y, np.unique(np.append(fine, t)), n_bins)
        return t, 0.0, 0.0

    return _fit_sequential(logits, accepted, attempted, best)[0]


def fit_sts(records: Sequence[RoundRecord], gamma: int | None = None,
            grid: Sequence[float] = DEFAULT_GRID, refine: int = 41, n_bins: int = N_BINS) -> list[float]:
    """Sequential Temperature Scaling: one positive temperature per draft slot 1..gamma."""
    logits, acc, att = confidence_arrays(records, gamma)
    return fit_sts_arrays(logits, acc, att, grid, refine, n_bins)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x), stable for large |x| (and about twice as fast as np.logaddexp(0, x))."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _nll_columns(log1m_prev: np.ndarray, z: np.ndarray, y: np.ndarray, log_t: np.ndarray,
                 b: np.ndarray, e: np.ndarray | None = None) -> np.ndarray:
    """Mean Bernoulli NLL of a = prev * sigmoid(s), s = z / T + b + e curvature(z), against y, for
    every column (log_t[j], b[j], e[j]) (e = 0 when None), without the -log(prev) of the y = 1 rows
    (the same for every column).

    Written so that nothing cancels: -log sigmoid(s) = softplus(-s) and
    -log(1 - prev sigmoid(s)) = softplus(s) - softplus(s + log(1 - prev))."""
    pos = y > 0.5
    bend = None if e is None else curvature(z)
    out = np.empty(log_t.size)
    step = max(1, (1 << 21) // max(z.size, 1))  # columns per chunk: about 16 MB per temporary
    for j in range(0, log_t.size, step):
        s = z[:, None] * np.exp(-log_t[None, j:j + step]) + b[None, j:j + step]
        if bend is not None:
            s += bend[:, None] * e[None, j:j + step]
        sn = s[~pos]
        total = _softplus(-s[pos]).sum(axis=0) + (_softplus(sn) - _softplus(sn + log1m_prev[~pos, None])).sum(axis=0)
        out[j:j + step] = total / z.size
    return out


def _best_calibration(prev: np.ndarray, z: np.ndarray, y: np.ndarray, log_t: np.ndarray, b: np.ndarray,
                      e: np.ndarray | None, zooms: int, points: int = 9) -> tuple[float, float, float]:
    """argmin_(T, b, e) of the NLL over the grid log_t x b (x e, when e is given; e = 0 otherwise),
    then `zooms` times over a grid of `points` per axis spanning one step of the previous grid on
    each side of its optimum (each zoom divides the steps by (points - 1) / 2). Only monotone maps
    take part: |e| <= 1 / T. Ties go to the (T, b, e) closest to (1, 0, 0)."""
    with np.errstate(divide="ignore"):  # prev = 1 (slot 1): log(1 - prev) = -inf, which is exact here
        log1m_prev = np.log1p(-prev)
    axes = [log_t, b] + ([] if e is None else [e])
    steps = [float(np.diff(a).min()) if a.size > 1 else 0.1 for a in axes]
    for zoom in range(zooms + 1):
        cols = [a.ravel() for a in np.meshgrid(*axes, indexing="ij")]
        tt, bb = cols[0], cols[1]
        ee = cols[2] if e is not None else np.zeros_like(tt)
        ok = np.abs(ee) <= np.exp(-tt) * (1 + 1e-9)
        tt, bb, ee = tt[ok], bb[ok], ee[ok]
        nll = _nll_columns(log1m_prev, z, y, tt, bb, None if e is None else ee)
        cand = np.flatnonzero(nll <= nll.min() + 1e-12 * max(1.0, abs(nll.min())))
        i = cand[np.argmin(np.abs(tt[cand]) + np.abs(bb[cand]) + np.abs(ee[cand]))]
        if zoom < zooms:
            best = (tt[i], bb[i], ee[i])
            axes = [np.linspace(c - d, c + d, points) for c, d in zip(best, steps)]
            steps = [2 * d / (points - 1) for d in steps]
    return float(np.exp(tt[i])), float(bb[i]), float(ee[i])


def fit_sts_bias_arrays(logits: np.ndarray, accepted: np.ndarray, attempted: np.ndarray,
                        grid: Sequence[float] = STS_BIAS_GRID, bias_grid: Sequence[float] = BIAS_GRID,
                        zooms: int = 5, curvature_grid: Sequence[float] | None = None
                        ) -> tuple[list[float], list[float], list[float]]:
    """STS with a per-position bias on dense arrays: (temperatures, biases, curvatures), c_k =
    sigmoid(z_k / T_k + b_k + e_k curvature(z_k)), (T_k, b_k, e_k) minimising the NLL of a_k; e = 0
    unless `curvature_grid` is given (sts-beta). `grid` (temperatures) x `bias_grid` (x
    `curvature_grid`) is the coarse grid; the zooms may step one coarse step past its edges. A slot
    with no data keeps T = 1, b = 0, e = 0."""
    log_t = np.log(_temperature_grid(grid))
    b = np.asarray(sorted(float(x) for x in bias_grid), dtype=np.float64)
    if b.size == 0 or not np.isfinite(b).all():
        raise ValueError("STS bias grid must be non-empty and finite")
    e = None if curvature_grid is None else np.asarray(sorted(float(x) for x in curvature_grid), dtype=np.float64)
    if e is not None and (e.size == 0 or not np.isfinite(e).all()):
        raise ValueError("STS curvature grid must be non-empty and finite")
    return _fit_sequential(logits, accepted, attempted,
                           lambda prev, z, y: _best_calibration(prev, z, y, log_t, b, e, zooms))


def fit_sts_bias(records: Sequence[RoundRecord], gamma: int | None = None,
                 grid: Sequence[float] = STS_BIAS_GRID, bias_grid: Sequence[float] = BIAS_GRID,
                 zooms: int = 5, curvature_grid: Sequence[float] | None = None
                 ) -> tuple[list[float], list[float], list[float]]:
    """STS with a per-position bias (and curvature, with `curvature_grid`): (temperatures, biases,
    curvatures) for draft slots 1..gamma."""
    logits, acc, att = confidence_arrays(records, gamma)
    return fit_sts_bias_arrays(logits, acc, att, grid, bias_grid, zooms, curvature_grid)


def apply_temperatures(logits: Sequence[float], temperatures: Sequence[float],
                       biases: Sequence[float] | None = None,
                       curvatures: Sequence[float] | None = None) -> list[float]:
    """Calibrated conditional confidences c_k = sigmoid(z_k / T_k + b_k + e_k curvature(z_k)) (T = 1,
    b = 0, e = 0 past the fitted slots)."""
    z = np.asarray(logits, dtype=np.float64)
    return calibrated_confidences(z[None, :], temperatures, biases, curvatures)[0].tolist()


def split_indices(n: int, holdout_fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """(fit, holdout) indices of n rounds, by a fixed-seed permutation, each in order."""
    if not 0.0 <= holdout_fraction < 1.0:
        raise ValueError("holdout fraction must be in [0, 1)")
    perm = np.random.default_rng(seed).permutation(n)
    n_hold = int(round(holdout_fraction * n))
    return sorted(perm[n_hold:].tolist()), sorted(perm[:n_hold].tolist())


def split_records(records: Sequence[RoundRecord], holdout_fraction: float, seed: int = 0):
    """(fit, holdout) split over rounds by a fixed-seed permutation."""
    records = list(records)
    fit, hold = split_indices(len(records), holdout_fraction, seed)
    return [records[i] for i in fit], [records[i] for i in hold]


def survival_nll(c: np.ndarray, acc: np.ndarray, att: np.ndarray) -> float | None:
    """Mean Bernoulli NLL of the conditional confidences c [n, gamma] over the slots the rounds
    observed (slot k observed when k <= attempted and slots < k survived; outcome 1[accepted >= k])."""
    k = np.arange(1, c.shape[1] + 1)[None, :]
    observed = (k <= np.minimum(att, acc + 1)[:, None])
    if not observed.any():
        return None
    y = k <= acc[:, None]
    p = np.clip(np.where(observed, c, 0.5), 1e-7, 1 - 1e-7)
    return float(-np.where(y, np.log(p), np.log1p(-p))[observed].mean())


def fit_online_rate(records: Sequence[RoundRecord], rows: Sequence[int], temperatures: Sequence[float],
                    biases: Sequence[float], gamma: int | None = None,
                    rates: Sequence[float] = ONLINE_RATES,
                    curvatures: Sequence[float] | None = None) -> tuple[float, list[float | None]]:
    """(the rate of ONLINE_RATES with the least `survival_nll` on the rounds `rows` of `records` (the
    rounds with confidence logits, indexed as confidence_arrays), the NLL of every rate). The offsets
    are replayed over every round of each request, whichever half it fell in: a request's history
    is what the runtime has too. Ties go to the smaller rate."""
    rows = np.asarray(rows, dtype=np.int64)
    nll = []
    for rate in rates:
        c, acc, att = runtime_confidences(records, temperatures, biases, gamma, rate, curvatures)
        nll.append(survival_nll(c[rows], acc[rows], att[rows]))
    scored = [(v, i) for i, v in enumerate(nll) if v is not None]
    best = min(scored)[1] if scored else 0
    return float(rates[best]), nll


def calibrate(records: Sequence[RoundRecord], gamma: int | None = None, holdout_fraction: float = 0.5,
              seed: int = 0, grid: Sequence[float] | None = None, n_bins: int = N_BINS,
              return_data: bool = False, method: str = "sts-bias",
              online_rate: float | None = None) -> dict[str, Any]:
    """Fit `method` ("sts-bias" or "sts", see the module docstring) on part of the rounds, score
    before/after on the rest (on the fit rounds themselves when holdout_fraction is 0). Only rounds
    with confidence logits are used. `grid`: the temperature grid (default: DEFAULT_GRID for sts, its
    coarser STS_BIAS_GRID, then zooms, for sts-bias). `online_rate`: the runtime's online correction
    (None: `fit_online_rate` on the fit rounds, when the records carry request ids; else 0).

    Returns the calibration.json content: "method", "temperatures", "biases" (zeros for sts),
    "ece_before", "ece_after", "ece_floor_after" (what perfect calibration would score on the same
    rounds: ece_noise_floor), "online_rate", "num_rounds" (rounds used), plus "ece_after_fixed" (the
    fitted (T, b) without online offsets), "online_rate_nll" ({rate: NLL} over ONLINE_RATES, None
    when the rate was not fitted), "gamma", "auc_before", "auc_after", "brier_before", "brier_after",
    "n_eval" (per position), "ece_mean_before", "ece_mean_after", "ece_pooled_before",
    "ece_pooled_after", "num_fit_rounds", "num_eval_rounds", "holdout_fraction", "seed". With
    return_data=True also "_data_before" / "_data_after": {position: (pred, realized)} on the
    evaluation rounds (for reliability plots; not JSON-able, drop before saving)."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, not {method!r}")
    rows = [r for r in records if r.confidence_logits is not None]
    if not rows:
        raise ValueError("no round carries confidence logits (does this drafter have a confidence head?)")
    if gamma is None:
        gamma = max(min(r.effective_proposed, len(r.confidence_logits)) for r in rows)
    fit_idx, hold_idx = split_indices(len(rows), holdout_fraction, seed)
    if not fit_idx:
        raise ValueError(f"not enough rounds ({len(rows)}) to hold out {holdout_fraction:.0%}")
    fit_rows = [rows[i] for i in fit_idx]
    eval_idx = hold_idx if hold_idx else fit_idx
    eval_rows = [rows[i] for i in eval_idx]
    if method == "sts":
        temps = fit_sts(fit_rows, gamma, DEFAULT_GRID if grid is None else grid, n_bins=n_bins)
        biases, curvatures = [0.0] * gamma, [0.0] * gamma
    else:
        temps, biases, curvatures = fit_sts_bias(fit_rows, gamma, STS_BIAS_GRID if grid is None else grid,
                                                 curvature_grid=CURVATURE_GRID if method == "sts-beta" else None)
    rate_nll = None
    if online_rate is None:
        online_rate = 0.0
        if any(r.request is not None for r in rows):
            online_rate, rate_nll = fit_online_rate(rows, fit_idx, temps, biases, gamma, curvatures=curvatures)
    data_before = calibration_dataset(eval_rows, None, gamma)
    c, acc, att = runtime_confidences(rows, temps, biases, gamma, online_rate, curvatures)   # whole requests
    data_after = survival_data(c[eval_idx], acc[eval_idx], att[eval_idx])
    before, after = _report(data_before, n_bins), _report(data_after, n_bins)
    fixed = after if not online_rate else _report(
        calibration_dataset(eval_rows, temps, gamma, biases, curvatures=curvatures), n_bins)
    out: dict[str, Any] = {
        "method": method,
        "temperatures": temps,
        "biases": biases,
        **({"curvatures": curvatures} if method == "sts-beta" else {}),
        "online_rate": online_rate,
        "ece_before": before["ece"],
        "ece_after": after["ece"],
        "ece_floor_after": after["ece_floor"],
        "ece_after_fixed": fixed["ece"],
        "online_rate_nll": None if rate_nll is None else dict(zip(map(str, ONLINE_RATES), rate_nll)),
        "num_rounds": len(rows),
        "gamma": gamma,
        "auc_before": before["auc"],
        "auc_after": after["auc"],
        "brier_before": before["brier"],
        "brier_after": after["brier"],
        "n_eval": before["n"],
        "ece_mean_before": before["ece_mean"],
        "ece_mean_after": after["ece_mean"],
        "ece_pooled_before": before["pooled"]["ece"],
        "ece_pooled_after": after["pooled"]["ece"],
        "num_fit_rounds": len(fit_rows),
        "num_eval_rounds": len(eval_rows),
        "holdout_fraction": holdout_fraction,
        "seed": seed,
    }
    if return_data:
        out["_data_before"], out["_data_after"] = data_before, data_after
    return out


def calibration_path(drafter: str | Path) -> Path:
    """Where calibration.json goes: inside a drafter directory, or next to a drafter file; a path
    ending in .json is used as is."""
    p = Path(drafter)
    if p.suffix == ".json":
        return p
    if p.is_dir():
        return p / "calibration.json"
    if p.exists():
        return p.parent / "calibration.json"
    return p / "calibration.json"  # a drafter directory that does not exist yet


REGIMES = ("sampled", "greedy")


def save_calibration(result: dict[str, Any], drafter: str | Path, regime: str = "sampled",
                     behind_lookup: bool = False, temperature: float | None = None) -> Path:
    """Write a `calibrate` result as the drafter's calibration.json. regime "sampled" (rounds verified
    at temperature > 0) fills the top level, "greedy" (temperature 0) the "greedy" section; the other
    regime's fit already in the file is kept. A sampled fit on rounds drawn at a temperature other
    than 1 goes into the "by_temperature" section under that temperature, keeping the rest.
    behind_lookup=True writes the same into the "behind_lookup" section instead (rounds the drafter
    drafted behind n-gram lookup, `ngram+dspark`), keeping the rest of the file."""
    from dspark.drafters.dspark import BY_TEMPERATURE, LOOKUP_SECTION, SAMPLED_FIT_TEMPERATURE
    if regime not in REGIMES:
        raise ValueError(f"calibration regime must be one of {', '.join(REGIMES)}, not {regime!r}")
    if temperature is not None and not temperature > 0:
        raise ValueError(f"a sampled fit's temperature must be > 0, got {temperature}")
    other_t = regime == "sampled" and temperature is not None and temperature != SAMPLED_FIT_TEMPERATURE
    clean = {k: v for k, v in result.items() if not k.startswith("_")}
    g = len(clean["temperatures"])
    identity = {"method": "identity", "temperatures": [1.0] * g, "biases": [0.0] * g}

    def with_fit(base: dict | None) -> dict:   # a calibration with this regime's fit put in
        if regime == "greedy":
            return {**(base or {}), "greedy": clean}
        if other_t:   # a top level without a sampled fit gets the identity (the runtime needs one)
            base = base or ({} if behind_lookup else identity)
            return {**base, BY_TEMPERATURE: {**base.get(BY_TEMPERATURE, {}), f"{temperature:g}": clean}}
        kept = {k: base[k] for k in ("greedy", BY_TEMPERATURE) if base and base.get(k)}
        return {**clean, **kept}

    path = calibration_path(drafter)
    old = json.loads(path.read_text()) if path.is_file() else None
    if behind_lookup:   # the section holds only the regimes fitted behind lookup; the file has the others
        top = old or identity
        content = {**top, LOOKUP_SECTION: with_fit(top.get(LOOKUP_SECTION))}
    else:               # no sampled fit yet: identity at the top level (the runtime needs one)
        content = with_fit(old or identity if regime == "greedy" or other_t else old)
        if old and old.get(LOOKUP_SECTION):
            content[LOOKUP_SECTION] = old[LOOKUP_SECTION]
    return write_text_atomic(path, json.dumps(content, indent=2) + "\n")


def load_calibration_params(path: str | Path, regime: str = "sampled") -> tuple[list[float], list[float]]:
    """(temperatures, biases) of a calibration.json (a drafter directory or the file itself), checked
    as the runtime checks them; a file without "biases" (written before they existed) has zeros.
    regime "greedy" reads the "greedy" section when there is one (the runtime's rule)."""
    fit = calibration_in_use_of(path, regime)
    return fit.temperatures, fit.biases


def calibration_in_use_of(path: str | Path, regime: str = "sampled", behind_lookup: bool = False,
                          temperature: float = 1.0):
    """The fit (dspark.drafters.dspark.CalibrationFit: temperatures, biases, online rate, curvatures)
    that the runtime applies to `regime` requests (behind
    n-gram lookup with behind_lookup; sampled ones at `temperature`), read from a calibration.json (a
    drafter directory or the file itself) by the runtime's own rule
    (dspark.drafters.dspark.calibration_in_use)."""
    from dspark.drafters.dspark import calibration_in_use  # imports torch: here only
    from dspark.errors import DSparkError
    if regime not in REGIMES:
        raise ValueError(f"calibration regime must be one of {', '.join(REGIMES)}, not {regime!r}")
    p = calibration_path(path)
    try:
        data = json.loads(p.read_text())
        return calibration_in_use(data, regime == "greedy", behind_lookup, temperature=temperature)
    except OSError as e:
        raise ValueError(f"{p}: cannot read it ({e.strerror or e})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not JSON ({e})") from None
    except DSparkError as e:
        raise ValueError(f"{p}: {e}") from None


def score_calibration(records: Sequence[RoundRecord], path: str | Path, regime: str = "sampled",
                      behind_lookup: bool = False, n_bins: int = N_BINS, temperature: float = 1.0) -> dict[str, Any]:
    """A drafter's calibration.json scored on recorded rounds, no fit: the section the runtime would
    apply (`calibration_in_use_of`; sampled rounds drawn at `temperature`), with each request's
    online offsets replayed. Returns
    `confidence_report`'s lists for the raw confidences ("before") and the calibrated ones ("after"),
    plus "temperatures", "biases", "curvatures", "online_rate", "num_rounds"; "_data_before" / "_data_after" for
    reliability plots (not JSON-able)."""
    rows = [r for r in records if r.confidence_logits is not None]
    if not rows:
        raise ValueError("no round carries confidence logits (does this drafter have a confidence head?)")
    fit = calibration_in_use_of(path, regime, behind_lookup, temperature)
    gamma = len(fit.temperatures)
    data_before = calibration_dataset(rows, None, gamma)
    data_after = calibration_dataset(rows, fit.temperatures, gamma, fit.biases, fit.online_rate, fit.curvatures)
    return {"regime": regime, "behind_lookup": behind_lookup, "temperatures": fit.temperatures,
            "biases": fit.biases, "curvatures": fit.curvatures, "online_rate": fit.online_rate,
            "num_rounds": len(rows),
            "before": _report(data_before, n_bins), "after": _report(data_after, n_bins),
            "_data_before": data_before, "_data_after": data_after}


def load_temperatures(path: str | Path) -> list[float]:
    """The temperatures of a calibration.json (see `load_calibration_params` for the biases too)."""
    return load_calibration_params(path)[0]
