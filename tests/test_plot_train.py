"""`deepspec plot-train`: training curves and the data- or step-limited verdict from synthetic
train_log.jsonl files (training rows and held-out evaluations, as `deepspec train` writes them)."""
from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np

from deepspec.cli import main as deepspec_main
from deepspec.eval.plots import running_mean

STEPS = 60


def write_log(run: Path, train_tau, held: dict[int, float], extra: str = "", lr=None) -> Path:
    """Training rows for steps 1..STEPS (tau_sim = train_tau(step), 20 steps an epoch, "lr" = lr(step)
    where given) and held-out rows {step: tau_sim} after the training row of their step."""
    run.mkdir(parents=True)
    lines = []
    for s in range(1, STEPS + 1):
        tau = train_tau(s)
        lines.append({"split": "train", "step": s, "epoch": s / 20, "loss": 1.0 / s, "accept_rate@1": tau - 1.0,
                      "tau_sim": tau, "sample_ids": [f"x{s}"], **({"lr": lr(s)} if lr else {})})
        if s in held:
            lines.append({"split": "heldout", "step": s, "epoch": s / 20, "loss": 0.5, "samples": 8,
                          "accept_rate@1": held[s] - 1.0, "tau_sim": held[s]})
    (run / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) + extra)
    return run


def test_running_mean():
    assert np.allclose(running_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    got = running_mean([1.0, None, float("nan"), 5.0], 3)   # missing values are left out of the mean
    assert np.allclose(got[:2], [1, 1]) and got[2] == 1 and got[3] == 5
    assert math.isnan(running_mean([None, 1.0], 1)[0])


def test_plot_train_figure_and_verdicts(tmp_path, capsys):
    rising = write_log(tmp_path / "rising", lambda s: 1.5 + s / 100, {20: 1.60, 40: 1.70, 50: 1.75, 60: 1.80},
                       extra='{"split": "train", "step": 61, "tau')          # a line cut by a kill is skipped
    limited = write_log(tmp_path / "limited", lambda s: 1.5 + s / 50, {20: 1.70, 40: 1.72, 60: 1.69})
    flat = write_log(tmp_path / "flat", lambda s: 2.0, {20: 1.90, 40: 1.90, 60: 1.90})
    few = write_log(tmp_path / "few", lambda s: 2.0, {60: 1.90})
    none = write_log(tmp_path / "none", lambda s: 2.0, {})
    out = tmp_path / "fig" / "curves.png"
    argv = ["plot-train", *(str(r) for r in (rising, limited, flat, few, none)), "--out", str(out), "--smooth", "10"]
    assert deepspec_main(argv) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and lines[-1] == f"wrote {out}"
    by_run = {line.split(":")[0]: line for line in lines[:-1]}

    last10 = sum(1.5 + s / 100 for s in range(STEPS - 9, STEPS + 1)) / 10   # the smoothed last training tau
    r = by_run["rising"]
    assert f"{STEPS} steps, 3.00 epochs" in r and f"train tau_sim {last10:.3f} (mean of the last 10 steps)" in r
    assert "held-out tau_sim best 1.800 (step 60), last 1.800 (step 60)" in r and r.endswith("; held-out still rising")
    r = by_run["limited"]
    assert "best 1.720 (step 40), last 1.690 (step 60)" in r
    assert r.endswith("; held-out flat/declining while train rises: data-limited")
    assert by_run["flat"].endswith("; held-out and train flat")
    assert by_run["few"].endswith("1 held-out evaluation(s): too few for a verdict")
    assert "no held-out evaluations" in by_run["none"]


def test_plot_train_verdict_is_provisional_mid_schedule(tmp_path, capsys):
    """A flat held-out curve while the learning rate is still high (a cosine cut at its middle) is not yet
    "data-limited": the verdict says so; once the schedule has decayed, the same curve's verdict stands."""
    held = {20: 1.70, 40: 1.72, 60: 1.69}
    cut = write_log(tmp_path / "cut", lambda s: 1.5 + s / 50, held,
                    lr=lambda s: 1e-3 * (1 + math.cos(math.pi * s / (2 * STEPS))) / 2)   # half a cosine
    ended = write_log(tmp_path / "ended", lambda s: 1.5 + s / 50, held,
                      lr=lambda s: 1e-3 * (1 + math.cos(math.pi * s / STEPS)) / 2)       # the whole cosine
    assert deepspec_main(["plot-train", str(cut), str(ended), "--out", str(tmp_path / "c.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("; held-out flat/declining while train rises: data-limited "
                             "(provisional: lr at 50 % of its peak)")
    assert lines[1].endswith("; held-out flat/declining while train rises: data-limited")


def test_plot_train_reads_a_carry(tmp_path, capsys):
    """A carry_dir (the committed compact copy of a run: its log gzip'd) plots like the run's out_dir."""
    run = write_log(tmp_path / "a" / "run", lambda s: 1.5 + s / 100, {20: 1.60, 40: 1.70, 60: 1.80})
    carry = tmp_path / "b" / "run"
    carry.mkdir(parents=True)
    (carry / "train_log.jsonl.gz").write_bytes(gzip.compress((run / "train_log.jsonl").read_bytes()))
    out = tmp_path / "curves.png"
    assert deepspec_main(["plot-train", str(run), str(carry), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith(f"{run}: ") and lines[1].startswith(f"{carry}: ")
    assert lines[0][len(str(run)):] == lines[1][len(str(carry)):] and "still rising" in lines[1]


def test_plot_train_missing_or_empty_log_exit_2(tmp_path, capsys):
    out = tmp_path / "x.png"
    assert deepspec_main(["plot-train", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("deepspec plot-train: error:") and "does not exist" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train_log.jsonl").write_text("")
    assert deepspec_main(["plot-train", str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no training steps logged" in err
    assert not out.exists()


def test_plot_train_adds_the_greedy_panel_when_logged(tmp_path):
    """Logs with tau_greedy (training and held-out rows) get a third panel: the figure is ~1.5x as wide
    (the tight bounding box trims the margins a little)."""
    from PIL import Image
    old = write_log(tmp_path / "old", lambda s: 2.0, {20: 1.9})
    new = write_log(tmp_path / "new", lambda s: 2.0, {20: 1.9})
    log = new / "train_log.jsonl"
    rows = [{**json.loads(line), "tau_greedy": 2.5} for line in log.read_text().splitlines()]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    widths = {}
    for run in (old, new):
        out = tmp_path / f"{run.name}.png"
        assert deepspec_main(["plot-train", str(run), "--out", str(out)]) == 0
        widths[run.name] = Image.open(out).size[0]
    assert 1.35 * widths["old"] < widths["new"] < 1.65 * widths["old"]
