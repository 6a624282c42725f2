"""PNG figures of the evaluation (matplotlib, Agg backend; every function returns the path written):

* `plot_conditional_acceptance` — position-wise conditional acceptance, one line per drafter/domain
  (the paper's figure 2);
* `plot_threshold_sweep` — static confidence threshold baseline: accepted / rejected draft tokens per
  step (stacked bars) and the acceptance rate (line) against the threshold (figure 5);
* `plot_reliability` / `plot_reliability_pair` — reliability diagrams of prefix-survival estimates,
  before and after STS, with the sample histogram shaded behind (figure 6);
* `plot_training_curves` — accept_rate@1 and simulated tau per training step (`deepspec train`'s log:
  training rows smoothed, held-out evaluations as markers), one color per run (`deepspec plot-train`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .calibration import auc, ece  # noqa: E402
from .metrics import RoundRecord, threshold_sweep  # noqa: E402

N_BINS = 20


def _save(fig, path) -> str:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def plot_conditional_acceptance(curves: Mapping[str, Sequence[float | None]], path,
                                title: str = "Position-wise conditional acceptance") -> str:
    """One line per name; element i of a curve is draft position i + 1 (None = no data)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    longest = 1
    for name, curve in curves.items():
        y = _nan(curve)
        longest = max(longest, len(y))
        ax.plot(np.arange(1, len(y) + 1), y, marker="o", label=name)
    ax.set_xlabel("Draft position")
    ax.set_ylabel("Conditional acceptance")
    ax.set_xticks(range(1, longest + 1))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend()
    return _save(fig, path)


def plot_block_length(curves: Mapping[str, Sequence[float | None]], path, reference: str | None = None,
                      title: str = "Accepted length against block length") -> str:
    """Figure 4's shape: tau against the number of verified draft tokens k (element k - 1 of each
    curve), and, when `reference` names one of the curves, every other curve's gain over it in %."""
    panels = 2 if reference in curves and len(curves) > 1 else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    ax = axes[0, 0]
    for name, curve in curves.items():
        y = _nan(curve)
        ax.plot(np.arange(1, len(y) + 1), y, marker="o", label=name)
    ax.set_xlabel("Block length k (draft tokens verified)")
    ax.set_ylabel("tau")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if panels == 2:
        ax = axes[0, 1]
        ref = _nan(curves[reference])
        for name, curve in curves.items():
            if name == reference:
                continue
            y = _nan(curve)
            n = min(len(y), len(ref))
            ax.plot(np.arange(1, n + 1), 100.0 * (y[:n] / ref[:n] - 1.0), marker="o", label=name)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_xlabel("Block length k")
        ax.set_ylabel(f"tau gain over {reference} (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_threshold_sweep(records: Sequence[RoundRecord], thresholds: Sequence[float], path,
                         temperatures: Sequence[float] | None = None, title: str = "Confidence threshold sweep",
                         score: str = "conditional", biases: Sequence[float] | None = None,
                         online_rate: float = 0.0, curvatures: Sequence[float] | None = None) -> str:
    """Stacked bars of accepted and rejected draft tokens per step, acceptance rate on a second axis.
    See `metrics.threshold_sweep` for the replay rule."""
    sweep = threshold_sweep(records, thresholds, temperatures, score, biases, online_rate, curvatures)
    x = np.arange(len(thresholds))
    acc = _nan(sweep["accepted_per_step"])
    rej = _nan(sweep["rejected_per_step"])
    rate = _nan(sweep["acceptance_rate"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(x, acc, color="tab:blue", label="Accepted tokens")
    ax.bar(x, rej, bottom=acc, color="white", edgecolor="tab:red", hatch="//", label="Rejected tokens")
    # at most ~11 labels: the eval's 21 thresholds in steps of 0.05 would run into each other
    every = max(1, -(-len(thresholds) // 11))
    ax.set_xticks(x[::every])
    ax.set_xticklabels([f"{t:g}" for t in list(thresholds)[::every]])
    ax.set_xlabel("Confidence threshold")
    ax.set_ylabel("Avg. draft tokens per step")
    ax2 = ax.twinx()
    ax2.plot(x, 100 * rate, color="black", marker="o", label="Acceptance rate")
    ax2.set_ylabel("Acceptance rate (%)")
    ax2.set_ylim(0, 105)
    for i in (0, len(x) - 1):
        if len(x) and not np.isnan(rate[i]):
            ax2.annotate(f"{100 * rate[i]:.1f}%", (x[i], 100 * rate[i]), textcoords="offset points",
                         xytext=(0, 6), ha="center", fontsize=8)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8,
              frameon=False)
    ax.set_title(f"{title} ({sweep['rounds']} rounds)")
    return _save(fig, path)


def reliability_curve(pred, realized, n_bins: int = N_BINS):
    """(bin centres, mean predicted per bin, mean realized per bin, counts) over equal-width bins;
    empty bins give NaN means."""
    p = np.clip(np.asarray(pred, dtype=np.float64).ravel(), 0.0, 1.0)
    y = np.asarray(realized, dtype=np.float64).ravel()
    b = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    cnt = np.bincount(b, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mp = np.bincount(b, weights=p, minlength=n_bins) / cnt
        my = np.bincount(b, weights=y, minlength=n_bins) / cnt
    centres = (np.arange(n_bins) + 0.5) / n_bins
    return centres, mp, my, cnt


def _reliability_axes(ax, series, n_bins: int, show_hist: bool = True, min_count: int = 10):
    """series: [(label, pred, realized, style)]; the histogram is that of the first series. Bins with
    fewer than min_count samples are not drawn (they still count in the ECE)."""
    ax.plot([0, 1], [0, 1], ls="--", color="gray", lw=1, label="Perfect calibration")
    if show_hist and series:
        centres, _, _, cnt = reliability_curve(series[0][1], series[0][2], n_bins)
        if cnt.sum():
            ax.bar(centres, cnt / cnt.max() * 0.3, width=1.0 / n_bins, color="lightgray", alpha=0.6, zorder=0)
    for label, pred, real, style in series:
        _, mp, my, cnt = reliability_curve(pred, real, n_bins)
        keep = cnt >= max(1, min(min_count, int(cnt.sum() // (2 * n_bins))))
        e = ece(pred, real, n_bins)
        tag = f"{label} (ECE {100 * e:.1f}%)" if e is not None else label
        ax.plot(mp[keep], my[keep], style, marker="o", ms=3, label=tag)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Predicted acceptance")
    ax.grid(alpha=0.3)


def plot_reliability(pred, realized, path, title: str = "Reliability diagram", n_bins: int = N_BINS) -> str:
    """One reliability diagram (predicted probability vs observed frequency, 20 equal-width bins)."""
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    _reliability_axes(ax, [("Confidence", pred, realized, "-")], n_bins)
    ax.set_ylabel("Observed acceptance")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def plot_reliability_pair(before: Mapping[int, tuple], after: Mapping[int, tuple], path,
                          positions: Sequence[int] | None = None, title: str = "Reliability diagram",
                          n_bins: int = N_BINS) -> str:
    """Before/after calibration, one panel per position. `before`/`after`: {position: (pred, realized)}
    as `metrics.calibration_dataset` returns them (positions 1-indexed)."""
    if positions is None:
        positions = sorted(j for j in before if len(before[j][0]))
    positions = list(positions) or [1]
    fig, axes = plt.subplots(1, len(positions), figsize=(3.4 * len(positions), 3.6), squeeze=False)
    for ax, j in zip(axes[0], positions):
        pb, yb = before.get(j, (np.zeros(0), np.zeros(0)))
        pa, ya = after.get(j, (np.zeros(0), np.zeros(0)))
        _reliability_axes(ax, [("Before", pb, yb, "-"), ("After", pa, ya, "-")], n_bins)
        eb, ea, au = ece(pb, yb, n_bins), ece(pa, ya, n_bins), auc(pa, ya)
        lines = [f"Position {j}"]
        if eb is not None and ea is not None:
            lines.append(f"ECE: {100 * eb:.1f}% \u2192 {100 * ea:.1f}%")
        if au is not None:
            lines.append(f"AUC: {au:.3f}")
        ax.set_title("\n".join(lines), fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
    axes[0][0].set_ylabel("Observed acceptance")
    fig.suptitle(title, y=1.08)
    return _save(fig, path)


def running_mean(values: Sequence[float | None], n: int) -> np.ndarray:
    """Trailing mean over the last n values (fewer at the start); NaN / None are left out of the mean,
    a window of nothing else is NaN."""
    y = _nan(values)
    ok = ~np.isnan(y)
    total = np.concatenate([[0.0], np.cumsum(np.where(ok, y, 0.0))])
    count = np.concatenate([[0], np.cumsum(ok)])
    hi = np.arange(1, len(y) + 1)
    lo = np.maximum(0, hi - n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total[hi] - total[lo]) / (count[hi] - count[lo])


TRAINING_CURVES = (("accept_rate@1", "Acceptance at position 1"), ("tau_sim", "Simulated tau"))
GREEDY_CURVE = ("tau_greedy", "Greedy tau (argmax prefix)")   # logs from session 47 on have it


def split_log(rows: Sequence[Mapping]) -> tuple[list[Mapping], list[Mapping]]:
    """The rows of a train_log.jsonl as (training steps, held-out evaluations): "split": "heldout"
    marks the latter, "train" (or no split, older logs) the former."""
    return ([r for r in rows if r.get("split", "train") == "train"],
            [r for r in rows if r.get("split") == "heldout"])


def plot_training_curves(runs: Mapping[str, Sequence[Mapping]], path, smooth: int = 25,
                         title: str = "Training curves") -> str:
    """runs: {label: the rows of a train_log.jsonl}. Rows with "split": "heldout" are held-out
    evaluations (dashed, markers); "train" ones (or none) are training steps, smoothed by `running_mean` over
    `smooth` rows (steps, with log_every = 1). Dotted vertical lines mark each run's epoch boundaries.
    A third panel, tau_greedy, when some run's log has it."""
    curves = TRAINING_CURVES + ((GREEDY_CURVE,) if any(GREEDY_CURVE[0] in r for rows in runs.values()
                                                        for r in rows) else ())
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.2), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, rows) in enumerate(runs.items()):
        color = colors[i % len(colors)]
        train, held = split_log(rows)
        steps = [r["step"] for r in train]
        epochs = [float(r.get("epoch", 0.0)) for r in train]
        bounds = [s for s, e0, e1 in zip(steps[1:], epochs, epochs[1:]) if int(e1) > int(e0)]
        span = f"{steps[-1]} steps, {epochs[-1]:.2f} epochs" if train else "no steps"
        for ax, (key, _) in zip(axes[0], curves):
            ax.plot(steps, running_mean([r.get(key) for r in train], smooth), color=color, lw=1.3,
                    label=f"{name} train, mean of {smooth} ({span})")
            if held:
                ax.plot([r["step"] for r in held], _nan([r.get(key) for r in held]), color=color, ls="--",
                        marker="o", ms=4, label=f"{name} held-out ({held[-1].get('samples', '?')} samples)")
            for b in bounds:
                ax.axvline(b, color=color, ls=":", lw=0.9, alpha=0.7)
    for ax, (key, label) in zip(axes[0], curves):
        ax.set_xlabel("Step (dotted: epoch boundaries)")
        ax.set_ylabel(key)
        ax.set_title(label)
        ax.grid(alpha=0.3)
    if runs:
        axes[0, 0].legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)
