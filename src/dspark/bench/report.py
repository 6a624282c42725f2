"""What `dspark bench` writes: bench.csv, throughput against per-user speed (the paper's Fig. 7),
verification budget against concurrency (Fig. 8), and a table with ratios against a baseline, at
the same concurrency and at the same per-user speed (on the baseline's Fig. 7 curve)."""
from __future__ import annotations

import csv
import math
from contextlib import contextmanager
from pathlib import Path

CSV_FIELDS = ["policy", "concurrency", "requests", "errors", "output_tokens", "wall_s", "throughput_tok_s",
              "per_user_tps_mean", "per_user_tps_median", "ttft_mean_s", "ttft_p50_s", "ttft_p90_s",
              "itl_mean_ms", "tau", "tokens_per_step", "verify_budget", "steps"]


def _fmt(x, spec=".1f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def row_line(row: dict) -> str:
    return (f"[{row['policy']} c={row['concurrency']}] {row['requests']} requests ({row['errors']} errors), "
            f"{row['output_tokens']} tokens in {row['wall_s']:.1f} s: {_fmt(row['throughput_tok_s'])} tok/s, "
            f"per user {_fmt(row['per_user_tps_mean'])} tok/s, TTFT {_fmt(row['ttft_mean_s'], '.2f')} s, "
            f"tau {_fmt(row['tau'], '.2f')}, budget {_fmt(row['verify_budget'], '.2f')}")


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _by_policy(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["policy"], []).append(r)
    for v in out.values():
        v.sort(key=lambda r: r["concurrency"])
    return out


@contextmanager
def _figure(path: Path, title: str, xlabel: str, ylabel: str):
    """One figure of the sweep: the caller draws on the axes; labels, grid, legend and saving here."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    yield ax
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_frontier(rows: list[dict], path: Path, title: str = "") -> None:
    with _figure(path, title or "Throughput against per-user speed (labels: concurrency)",
                 "per-user speed (output tokens/s per request)", "aggregate throughput (output tokens/s)") as ax:
        for policy, rs in _by_policy(rows).items():
            xs = [r["per_user_tps_mean"] for r in rs]
            ys = [r["throughput_tok_s"] for r in rs]
            ax.plot(xs, ys, marker="o", label=policy)
            for r, x, y in zip(rs, xs, ys):
                if not (math.isnan(x) or math.isnan(y)):
                    ax.annotate(str(r["concurrency"]), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)


def plot_budget(rows: list[dict], path: Path, title: str = "") -> None:
    with _figure(path, title or "Average verification budget against concurrency", "concurrency (requests)",
                 "draft tokens verified per request per step") as ax:
        for policy, rs in _by_policy(rows).items():
            ax.plot([r["concurrency"] for r in rs], [r["verify_budget"] for r in rs], marker="o", label=policy)
        ax.set_xscale("log", base=2)
        levels = sorted({r["concurrency"] for r in rows})
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.minorticks_off()


def frontier_throughput(rows: list[dict], policy: str, per_user: float) -> float | None:
    """The aggregate throughput `policy` reaches at per-user speed `per_user` on its throughput /
    per-user-speed curve (Fig. 7): linear between the two swept levels whose per-user speeds bracket
    it; None outside the swept range (no extrapolation)."""
    pts = sorted((r["per_user_tps_mean"], r["throughput_tok_s"]) for r in rows if r["policy"] == policy
                 and not math.isnan(r["per_user_tps_mean"]) and not math.isnan(r["throughput_tok_s"]))
    if math.isnan(per_user):
        return None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts):     # one level: itself, matched exactly
        if x0 <= per_user <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (per_user - x0) / (x1 - x0)
    return None


def format_table(rows: list[dict], baseline: str | None) -> str:
    base = {r["concurrency"]: r for r in rows if r["policy"] == baseline}
    head = (f"{'conc':>5} {'policy':<14} {'req':>4} {'err':>4} {'tok/s':>8} {'user tok/s':>10} {'TTFT s':>7} "
            f"{'ITL ms':>7} {'tau':>5} {'budget':>6} {'x thr':>6} {'x user':>6} {'x @user':>7}")
    lines = [head, "-" * len(head)]
    for r in sorted(rows, key=lambda r: (r["concurrency"], r["policy"] != baseline)):
        b = base.get(r["concurrency"])

        def ratio(key):
            if b is None or not b[key] or math.isnan(b[key]) or math.isnan(r[key]):
                return "-"
            return f"{r[key] / b[key]:.2f}"
        matched = frontier_throughput(rows, baseline, r["per_user_tps_mean"]) if baseline else None
        at_user = "-" if not matched else f"{r['throughput_tok_s'] / matched:.2f}"
        lines.append(f"{r['concurrency']:>5} {r['policy']:<14} {r['requests']:>4} {r['errors']:>4} "
                     f"{_fmt(r['throughput_tok_s']):>8} {_fmt(r['per_user_tps_mean']):>10} "
                     f"{_fmt(r['ttft_mean_s'], '.2f'):>7} {_fmt(r['itl_mean_ms']):>7} {_fmt(r['tau'], '.2f'):>5} "
                     f"{_fmt(r['verify_budget'], '.2f'):>6} {ratio('throughput_tok_s'):>6} "
                     f"{ratio('per_user_tps_mean'):>6} {at_user:>7}")
    if baseline:
        lines.append(f"(x thr, x user: ratios against policy '{baseline}' at the same concurrency; x @user: "
                     f"throughput against '{baseline}''s at the same per-user speed, on its curve between "
                     f"the levels that bracket it)")
    return "\n".join(lines)


def write_outputs(rows: list[dict], out_dir, baseline: str | None = None, title: str = "") -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "bench.csv", "frontier": out_dir / "throughput_vs_user_tps.png",
             "budget": out_dir / "verify_budget_vs_concurrency.png"}
    write_csv(rows, paths["csv"])
    plot_frontier(rows, paths["frontier"], title)
    plot_budget(rows, paths["budget"], title)
    return paths
