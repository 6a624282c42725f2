"""`deepspec plot-train`: the training curves of `deepspec train` runs, to see whether data or steps
limit a drafter.

    deepspec plot-train RUN_DIR [RUN_DIR ...] --out curves.png [--smooth 25]

Reads RUN_DIR/train_log.jsonl of each run (or, where RUN_DIR holds a run's carry instead, the
carry's train_log.jsonl.gz: a committed run plots next to one on this machine) and plots
accept_rate@1 and tau_sim per step (training rows smoothed by a running mean over --smooth steps,
held-out evaluations as markers: [data] holdout and [logging] eval_every of the config), one color
per run. Prints one summary line per run: the last smoothed training tau_sim, the best and the last
held-out tau_sim, and a verdict:

    held-out still rising          the last held-out tau_sim is within 1 % of the best and the last 3
                                   evaluations increase: more steps should still help;
    held-out flat/declining while train rises: data-limited
                                   otherwise, when the smoothed training tau_sim rose by more than 1 %
                                   since the third-last evaluation: the drafter fits its training data
                                   better without generalizing better, more (new) data should help;
    held-out and train flat        otherwise: converged at this size and learning rate.

A run whose learning rate is still above 10 % of its peak (the rows' "lr": a cosine schedule that has
not ended, or a run cut short) gets "(provisional: lr at N % of its peak)" after its verdict: the
decay still to come typically lifts held-out acceptance, so a flat stretch mid-schedule does not yet
mean that data limits the drafter.

A heuristic over a handful of noisy numbers (3 evaluations at least), not a test.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from dspark.errors import DSparkError

from ..eval.plots import plot_training_curves, running_mean, split_log
from ..train.checkpoints import read_carry_log
from ..train.trainer import LOG_FILE

TOLERANCE = 0.01   # "within 1 %" / "rose by more than 1 %"
PROVISIONAL_LR = 0.10   # a verdict is provisional while the learning rate is above this share of its peak


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="deepspec train out_dir (holds train_log.jsonl) or a carry_dir (train_log.jsonl.gz)")
    p.add_argument("--out", required=True, metavar="PATH.png", help="the figure to write")
    p.add_argument("--smooth", type=int, default=25,
                   help="running mean of the training rows over this many steps (default: %(default)s)")


def read_log(run: Path) -> list[dict]:
    """The rows of a run's log (its out_dir's, else its carry's); a line cut by a kill is skipped.
    DSparkError without training rows."""
    path = run / LOG_FILE
    text = path.read_text(encoding="utf-8") if path.is_file() else read_carry_log(run)
    if text is None:
        raise DSparkError(f"{path} does not exist (is {run} a deepspec train out_dir or carry_dir?)")
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not split_log(rows)[0]:
        raise DSparkError(f"the training log of {run} has no training steps logged")
    return rows


def summary(name: str, rows: list[dict], smooth: int) -> str:
    """One line: steps, epochs, the smoothed training tau_sim, held-out best / last, the verdict."""
    train, held = split_log(rows)
    held = [r for r in held if math.isfinite(r.get("tau_sim", math.nan))]
    curve = running_mean([r.get("tau_sim") for r in train], smooth)
    last = train[-1]
    text = (f"{name}: {last['step']} steps, {float(last.get('epoch', 0.0)):.2f} epochs; train tau_sim "
            f"{curve[-1]:.3f} (mean of the last {min(smooth, len(train))} steps)")
    if not held:
        return text + "; no held-out evaluations (set [data] holdout and [logging] eval_every)"
    taus = [r["tau_sim"] for r in held]
    best = max(range(len(held)), key=lambda i: taus[i])
    text += (f"; held-out tau_sim best {taus[best]:.3f} (step {held[best]['step']}), last {taus[-1]:.3f} "
             f"(step {held[-1]['step']})")
    if len(held) < 3:
        return text + f"; {len(held)} held-out evaluation(s): too few for a verdict"
    then = provisional(train)
    if taus[-1] >= (1 - TOLERANCE) * taus[best] and taus[-3] < taus[-2] < taus[-1]:
        return text + "; held-out still rising" + then
    since = max((i for i, r in enumerate(train) if r["step"] <= held[-3]["step"]), default=0)
    if curve[-1] > (1 + TOLERANCE) * curve[since]:
        return text + "; held-out flat/declining while train rises: data-limited" + then
    return text + "; held-out and train flat" + then


def provisional(train: list[dict]) -> str:
    """' (provisional: ...)' while the run's learning rate has not decayed, else ''."""
    lrs = [float(r["lr"]) for r in train if isinstance(r.get("lr"), (int, float))]
    peak = max(lrs, default=0.0)
    if peak <= 0 or lrs[-1] <= PROVISIONAL_LR * peak:
        return ""
    return f" (provisional: lr at {100 * lrs[-1] / peak:.0f} % of its peak)"


def run(args: argparse.Namespace) -> int:
    if args.smooth < 1:
        raise DSparkError("--smooth must be >= 1")
    dirs = [Path(r) for r in args.runs]
    names = [d.name for d in dirs]
    if len(set(names)) < len(names):   # same directory names: label by the path as given
        names = [str(d) for d in dirs]
    runs = {name: read_log(d) for name, d in zip(names, dirs)}
    for name, rows in runs.items():
        print(summary(name, rows, args.smooth))
    print(f"wrote {plot_training_curves(runs, args.out, args.smooth)}")
    return 0
