"""Calibration scores, Sequential Temperature Scaling, the plots and `deepspec calibrate`."""
import argparse
import json
from itertools import product

import numpy as np
import pytest
import torch

from deepspec.eval import plots
from deepspec.cli.calibrate import add_arguments as add_calibrate_arguments
from deepspec.cli.calibrate import run as run_calibrate
from deepspec.eval.calibration import (CURVATURE_GRID, apply_temperatures, auc, brier, calibrate, calibration_path,
                                       confidence_report, ece, fit_sts, fit_sts_bias, load_calibration_params,
                                       load_temperatures, save_calibration)
from deepspec.eval.metrics import (RoundRecord, calibrated_confidences, calibration_dataset, curvature, load_records,
                                   runtime_confidences, write_records)
from dspark.errors import DSparkError

PNG = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------ scores

def test_ece_hand_made():
    # bin 2 (p=.1): realized .5 -> |.1-.5| * 2/4; bin 18 (p=.9): realized 1 -> .1 * 2/4
    assert ece([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1]) == pytest.approx(0.25)
    assert ece([1.0, 1.0], [1, 1]) == pytest.approx(0.0)     # p = 1 falls in the last bin
    assert ece([0.3] * 10, [1] * 3 + [0] * 7) == pytest.approx(0.0)
    assert ece([], []) is None


def test_ece_matches_loop():
    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = (rng.random(500) < p ** 2).astype(float)
    ref = 0.0
    for b in range(20):
        lo, hi = b / 20, (b + 1) / 20
        m = (p >= lo) & ((p < hi) if b < 19 else (p <= hi))
        if m.any():
            ref += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    assert ece(p, y) == pytest.approx(ref)


def _auc_brute(s, y):
    pos = [a for a, l in zip(s, y) if l]
    neg = [a for a, l in zip(s, y) if not l]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_against_pair_count_with_ties():
    rng = np.random.default_rng(1)
    for _ in range(5):
        s = np.round(rng.random(200), 1)          # many ties
        y = rng.random(200) < s
        assert auc(s, y) == pytest.approx(_auc_brute(s, y))
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)
    assert auc([0.2, 0.3], [1, 1]) is None


def test_brier():
    assert brier([0.1, 0.9, 0.5], [0, 1, 1]) == pytest.approx((0.01 + 0.01 + 0.25) / 3)
    assert brier([], []) is None


def test_confidence_report_fields():
    recs = [RoundRecord(2, 1, 2, confidence_logits=[2.0, -1.0]),
            RoundRecord(2, 2, 3, confidence_logits=[1.0, 1.0]),
            RoundRecord(2, 0, 1, confidence_logits=[-1.0, 0.0])]
    rep = confidence_report(recs)
    assert rep["position"] == [1, 2] and rep["n"] == [3, 3]
    p1, y1 = calibration_dataset(recs)[1]
    assert rep["ece"][0] == pytest.approx(ece(p1, y1))
    assert rep["auc"][0] == pytest.approx(1.0)
    assert rep["mean_realized"] == pytest.approx([2 / 3, 1 / 3])
    assert rep["pooled"]["n"] == 6
    json.dumps(rep)


def test_apply_temperatures():
    c = apply_temperatures([2.0, 2.0, 2.0], [2.0, 1.0])
    assert c == pytest.approx([1 / (1 + np.exp(-1)), 1 / (1 + np.exp(-2)), 1 / (1 + np.exp(-2))])
    c = apply_temperatures([2.0, 2.0, 2.0], [2.0, 1.0], [-1.0, 0.5])
    assert c == pytest.approx([0.5, 1 / (1 + np.exp(-2.5)), 1 / (1 + np.exp(-2))])


# -------------------------------------------------------------------------------------- STS

def synthetic_rounds(n, gamma=7, seed=0, overconfidence=3.0, shift=0.0, bend=0.0):
    """True conditional survival p_k = sigmoid(z_k), at slot 1 sigmoid(z_1 - shift + bend
    curvature(z_1)); the head reports logit 3 z_k (over-confident); realized survival is a product
    chain of Bernoulli(p_k)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(1.5, 1.5, size=(n, gamma))
    first = np.arange(gamma) == 0
    ok = rng.random((n, gamma)) < 1 / (1 + np.exp(-(z + first * (bend * curvature(z) - shift))))
    acc = np.where(ok.all(axis=1), gamma, ok.argmin(axis=1))
    return [RoundRecord(proposed=gamma, accepted=int(a), committed=int(a) + 1,
                        confidence_logits=(overconfidence * zz).tolist()) for a, zz in zip(acc, z)]


def test_sts_fixes_overconfidence():
    gamma = 7
    fit = synthetic_rounds(10000, gamma, seed=10)
    held = synthetic_rounds(30000, gamma, seed=11)     # large, so the ECE estimate's own noise is small
    temps = fit_sts(fit, gamma)
    assert len(temps) == gamma and all(t > 0 for t in temps)
    assert 2.5 < temps[0] < 3.5                        # the true answer is 3 at every slot
    before = confidence_report(held)["ece"]
    after = confidence_report(held, temps)["ece"]
    assert min(before) > 0.08                          # clearly over-confident before
    assert max(after) < 0.02, after                    # calibrated at every position after
    # STS is order preserving within a slot
    p1_raw, _ = calibration_dataset(held[:200])[1]
    p1_cal, _ = calibration_dataset(held[:200], temps)[1]
    assert (np.argsort(p1_raw, kind="stable") == np.argsort(p1_cal, kind="stable")).all()


def test_sts_bias_removes_level_shift():
    """Slot 1's head is off in level (true survival sigmoid(z - 1.5), the head reports z): no
    temperature fixes that, a bias does. Slots 2-3 are calibrated already."""
    gamma, shift = 3, 1.5
    fit = synthetic_rounds(20000, gamma, seed=20, overconfidence=1.0, shift=shift)
    held = synthetic_rounds(20000, gamma, seed=21, overconfidence=1.0, shift=shift)
    temps_sts = fit_sts(fit, gamma)
    temps, biases, bends = fit_sts_bias(fit, gamma)
    assert bends == [0.0] * gamma                               # sts-bias fits no curvature
    before = confidence_report(held)["ece"]
    sts = confidence_report(held, temps_sts)["ece"]
    after = confidence_report(held, temps, biases=biases)["ece"]
    assert before[0] > 0.2 and sts[0] > 0.07, (before, sts)    # measured: 0.25 raw, 0.10 after sts
    assert max(after) < 0.02, after                            # measured: 0.010, 0.010, 0.009
    assert biases[0] == pytest.approx(-shift, abs=0.15) and temps[0] == pytest.approx(1.0, abs=0.1)
    assert all(abs(b) < 0.2 for b in biases[1:]) and all(t == pytest.approx(1.0, abs=0.15) for t in temps[1:])


def test_sts_bias_corner_cases():
    # no data past slot 2: T = 1, b = 0 there; slot 2 always survives: the largest bias the zooms reach
    recs = [RoundRecord(2, 2, 3, confidence_logits=[float(i % 5) - 2.0, 0.5, 9.0]) for i in range(50)]
    recs += [RoundRecord(2, 0, 1, confidence_logits=[-3.0, 0.5, 9.0])] * 10
    temps, biases, _ = fit_sts_bias(recs, 3)
    assert temps[2] == 1.0 and biases[2] == 0.0
    assert biases[1] > 4.0 and np.isfinite(biases).all() and all(t > 0 for t in temps)
    assert fit_sts_bias(recs, 3)[:2] == (temps, biases)     # deterministic
    temps, biases, bends = fit_sts_bias(recs, 3, curvature_grid=CURVATURE_GRID)
    assert all(abs(e) * t <= 1 + 1e-9 for e, t in zip(bends, temps)) and bends[2] == 0.0
    with pytest.raises(ValueError, match="curvature grid"):
        fit_sts_bias(recs, 3, curvature_grid=[])
    with pytest.raises(ValueError):
        fit_sts_bias(recs, 3, bias_grid=[])
    with pytest.raises(ValueError):
        fit_sts_bias(recs, 3, grid=[0.0, 1.0])


def test_sts_beta_fits_the_two_slopes_a_bias_cannot():
    """Slot 1's head is right at z = 0 but its confident and unsure ends are off in opposite ways
    (true survival sigmoid(z - 0.6 curvature(z))): no (T, b) fits both ends, the curvature does, and
    the map it fits stays monotone."""
    gamma, bend = 3, -0.6
    fit = synthetic_rounds(20000, gamma, seed=30, overconfidence=1.0, bend=bend)
    held = synthetic_rounds(20000, gamma, seed=31, overconfidence=1.0, bend=bend)
    res_bias = calibrate(fit, gamma, holdout_fraction=0.0, method="sts-bias")
    res = calibrate(fit, gamma, holdout_fraction=0.0, method="sts-beta")
    assert "curvatures" not in res_bias and len(res["curvatures"]) == gamma
    t, b, e = res["temperatures"], res["biases"], res["curvatures"]
    assert e[0] == pytest.approx(bend, abs=0.1) and t[0] == pytest.approx(1.0, abs=0.1) and abs(b[0]) < 0.15
    assert all(abs(x) <= 1 / y for x, y in zip(e, t))
    with_bias = confidence_report(held, res_bias["temperatures"], biases=res_bias["biases"])["ece"]
    with_beta = confidence_report(held, t, biases=b, curvatures=e)["ece"]
    assert with_bias[0] > 0.022 and with_beta[0] < min(0.015, with_bias[0] / 2), (with_bias, with_beta)  # 0.029, 0.010
    z = np.linspace(-8, 8, 401)[:, None]
    assert (np.diff(calibrated_confidences(z, t[:1], b[:1], e[:1])[:, 0]) >= 0).all()


@pytest.mark.parametrize("method", ["sts", "sts-bias", "sts-beta"])
def test_calibrate_holdout_result(method):
    recs = synthetic_rounds(6000, 4, seed=3)
    res = calibrate(recs, gamma=4, holdout_fraction=0.5, seed=0, method=method)
    assert res["method"] == method and len(res["temperatures"]) == len(res["biases"]) == 4
    if method == "sts":
        assert res["biases"] == [0.0] * 4
    assert ("curvatures" in res) == (method == "sts-beta")
    assert res["num_rounds"] == 6000 and res["num_fit_rounds"] == res["num_eval_rounds"] == 3000
    assert all(a < b for a, b in zip(res["ece_after"], res["ece_before"]))
    assert res["ece_mean_after"] < 0.03 < 0.08 < res["ece_mean_before"]
    json.dumps(res)
    with pytest.raises(ValueError):
        calibrate([RoundRecord(2, 1, 2)], gamma=2)
    with pytest.raises(ValueError, match="method"):
        calibrate(recs, gamma=4, method="platt")


def test_load_calibration_params(tmp_path):
    f = tmp_path / "calibration.json"
    f.write_text(json.dumps({"method": "sts", "temperatures": [2.0, 0.5]}))   # written before biases
    assert load_calibration_params(tmp_path) == ([2.0, 0.5], [0.0, 0.0])
    assert load_temperatures(f) == [2.0, 0.5]
    f.write_text(json.dumps({"temperatures": [2.0, 0.5], "biases": [-1.5, 0]}))
    assert load_calibration_params(f) == ([2.0, 0.5], [-1.5, 0.0])
    for bad in ({"temperatures": [2.0, 0.0]}, {"temperatures": [2.0, 0.5], "biases": [1.0]},
                {"temperatures": [2.0, 0.5], "biases": [1.0, float("nan")]},
                {"temperatures": [2.0, 0.5], "biases": [1.0, "x"]}, {"temperatures": [2.0, 0.5], "biases": 1.0}):
        f.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match="calibration.json"):
            load_calibration_params(f)


def test_calibration_path(tmp_path):
    d = tmp_path / "drafter"
    d.mkdir()
    assert calibration_path(d) == d / "calibration.json"
    f = d / "model.safetensors"
    f.write_bytes(b"")
    assert calibration_path(f) == d / "calibration.json"
    assert calibration_path(tmp_path / "x.json") == tmp_path / "x.json"


# ------------------------------------------------------------------------------------ plots

def _is_png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG and len(open(path, "rb").read()) > 1000


def test_plots_write_png(tmp_path):
    recs = synthetic_rounds(400, 5, seed=4)
    p = plots.plot_conditional_acceptance({"DSpark": [0.8, 0.8, 0.79, None], "DFlash": [0.8, 0.7, 0.6, 0.5]},
                                          tmp_path / "cond.png", "Math")
    assert _is_png(p)
    p = plots.plot_threshold_sweep(recs, [0.0, 0.2, 0.4, 0.6, 0.8], tmp_path / "sweep.png",
                                   temperatures=[3.0] * 5)
    assert _is_png(p)
    data = calibration_dataset(recs)
    p = plots.plot_reliability(*data[1], tmp_path / "rel.png", "Position 1")
    assert _is_png(p)
    p = plots.plot_reliability_pair(data, calibration_dataset(recs, [3.0] * 5), tmp_path / "pair.png",
                                    positions=[1, 3, 5])
    assert _is_png(p)


# ---------------------------------------------------------------------------------- command

def test_run_calibrate_writes_calibration_json(tmp_path, capsys):
    gamma = 5
    recs = synthetic_rounds(1500, gamma, seed=5)
    recs += [RoundRecord(gamma, 2, 2, eos=True, confidence_logits=[1.0] * gamma)]
    f1 = write_records(recs[:800], str(tmp_path / "a.jsonl"))
    f2 = write_records(recs[800:], str(tmp_path / "b.jsonl"))
    drafter = tmp_path / "drafter"
    drafter.mkdir()
    parser = argparse.ArgumentParser()
    add_calibrate_arguments(parser)
    args = parser.parse_args(["--records", f1, f2, "--drafter", str(drafter), "--out", str(tmp_path / "plots")])
    assert run_calibrate(args) == 0
    data = json.loads((drafter / "calibration.json").read_text())
    assert data["method"] == "sts-bias"
    assert len(data["temperatures"]) == gamma and all(t > 0 for t in data["temperatures"])
    assert len(data["biases"]) == gamma and np.isfinite(data["biases"]).all()
    assert len(data["ece_before"]) == len(data["ece_after"]) == gamma
    assert data["num_rounds"] == len(recs)
    assert load_calibration_params(drafter) == (data["temperatures"], data["biases"])
    assert _is_png(tmp_path / "plots" / "reliability.png")
    assert _is_png(tmp_path / "plots" / "threshold_sweep.png")
    out = capsys.readouterr().out
    assert "ECE" in out and "calibration.json" in out


def test_cli_calibrate(tmp_path, capsys):
    from deepspec.cli import main
    f = write_records(synthetic_rounds(300, 3, seed=6), str(tmp_path / "r.jsonl"))
    assert main(["calibrate", "--records", f, "--drafter", str(tmp_path / "d"), "--holdout-fraction", "0"]) == 0
    assert len(json.loads((tmp_path / "d" / "calibration.json").read_text())["temperatures"]) == 3
    assert main(["calibrate", "--records", f, "--drafter", str(tmp_path / "d"), "--method", "sts"]) == 0
    data = json.loads((tmp_path / "d" / "calibration.json").read_text())
    assert data["method"] == "sts" and data["biases"] == [0.0] * 3
    assert "sts on" in capsys.readouterr().out
    nolog = write_records([RoundRecord(3, 1, 2)], str(tmp_path / "n.jsonl"))
    assert main(["calibrate", "--records", nolog]) == 2
    assert main(["calibrate", "--records", str(tmp_path / "missing.jsonl")]) == 2


def test_calibrate_greedy_regime_keeps_the_sampled_fit(tmp_path, capsys):
    """Greedy rounds (temperature 0) are fitted into calibration.json's "greedy" section; a later
    sampled fit keeps it, and the runtime's reader picks the section by regime."""
    from deepspec.cli import main
    sampled = write_records(synthetic_rounds(600, 3, seed=7, shift=-1.0), str(tmp_path / "s.jsonl"))
    greedy = write_records(synthetic_rounds(600, 3, seed=8, shift=1.5), str(tmp_path / "g.jsonl"))
    d = tmp_path / "d"
    assert main(["calibrate", "--records", greedy, "--drafter", str(d), "--regime", "greedy"]) == 0
    data = json.loads((d / "calibration.json").read_text())
    assert data["temperatures"] == [1.0] * 3 and data["biases"] == [0.0] * 3     # no sampled fit yet
    g = (data["greedy"]["temperatures"], data["greedy"]["biases"])
    assert load_calibration_params(d, "greedy") == g
    assert main(["calibrate", "--records", sampled, "--drafter", str(d)]) == 0
    data = json.loads((d / "calibration.json").read_text())
    assert (data["greedy"]["temperatures"], data["greedy"]["biases"]) == g
    s = load_calibration_params(d)
    assert s == (data["temperatures"], data["biases"]) and s != g
    assert load_calibration_params(d, "greedy") == g
    assert "(greedy)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="regime"):
        save_calibration({"temperatures": [1.0], "biases": [0.0]}, d, "hot")


def test_calibrate_behind_lookup_writes_its_own_section(tmp_path, capsys):
    """Rounds of the drafter behind n-gram lookup are fitted into the "behind_lookup" section, per
    regime; neither kind of fit overwrites the other, and what the section lacks the file supplies."""
    from deepspec.cli import main
    from dspark.drafters.dspark import DSparkDrafter
    alone = write_records(synthetic_rounds(600, 3, seed=7, shift=-1.0), str(tmp_path / "a.jsonl"))
    behind = write_records(synthetic_rounds(600, 3, seed=9, shift=1.0), str(tmp_path / "b.jsonl"))
    d = tmp_path / "d"

    def runtime(behind_lookup: bool) -> DSparkDrafter:   # what the drafter reads from the file
        probe = DSparkDrafter.__new__(DSparkDrafter)
        probe.gamma = 3
        probe.load_calibration(json.loads((d / "calibration.json").read_text()))
        if behind_lookup:
            probe.behind_lookup()
        return probe

    assert main(["calibrate", "--records", behind, "--drafter", str(d), "--regime", "greedy", "--behind-lookup"]) == 0
    assert "(greedy, behind lookup)" in capsys.readouterr().out
    data = json.loads((d / "calibration.json").read_text())
    assert data["temperatures"] == [1.0] * 3 and "greedy" not in data           # the rest: identity so far
    section = data["behind_lookup"]
    assert set(section) == {"greedy"} and section["greedy"]["biases"] != [0.0] * 3
    assert main(["calibrate", "--records", alone, "--drafter", str(d)]) == 0
    data = json.loads((d / "calibration.json").read_text())
    assert data["behind_lookup"] == section and data["biases"] != [0.0] * 3
    # behind lookup: the section's greedy fit, and the file's sampled fit, which the section lacks
    r = runtime(True)
    assert r.fit_in_use(True)[1] == section["greedy"]["biases"] and r.fit_in_use(False)[1] == data["biases"]
    assert "greedy" not in runtime(False).calibration() and runtime(False).fit_in_use(True)[1] == data["biases"]
    assert main(["calibrate", "--records", behind, "--drafter", str(d), "--behind-lookup"]) == 0
    data2 = json.loads((d / "calibration.json").read_text())
    assert data2["behind_lookup"]["greedy"] == section["greedy"]                # its greedy fit is kept
    assert data2["behind_lookup"]["biases"] not in ([0.0] * 3, data["biases"])
    assert {k: v for k, v in data2.items() if k != "behind_lookup"} == {k: v for k, v in data.items() if k != "behind_lookup"}
    assert runtime(True).fit_in_use(False)[1] == data2["behind_lookup"]["biases"]
    assert runtime(False).fit_in_use(False)[1] == data2["biases"]


def test_calibration_by_sampling_temperature(tmp_path, capsys):
    """A sampled fit on rounds drawn at T 0.7 goes into "by_temperature" and keeps the rest of the
    file; a sampled request gets the fit of the nearest temperature, alone and behind lookup (where
    the section's own fit for a temperature replaces the file's); --score applies the same rule; the
    drafter's calibration() writes the section back; a malformed section is refused."""
    from deepspec.cli import main
    from dspark.drafters.dspark import DSparkDrafter
    t1 = write_records(synthetic_rounds(600, 3, seed=7, shift=-1.0), str(tmp_path / "t1.jsonl"))
    t07 = write_records(synthetic_rounds(600, 3, seed=8, shift=1.0), str(tmp_path / "t07.jsonl"))
    behind = write_records(synthetic_rounds(600, 3, seed=9, shift=2.0), str(tmp_path / "b.jsonl"))
    d = tmp_path / "d"

    def runtime(data: dict, behind_lookup: bool = False) -> DSparkDrafter:
        probe = DSparkDrafter.__new__(DSparkDrafter)
        probe.gamma = 3
        probe.load_calibration(data)
        if behind_lookup:
            probe.behind_lookup()
        return probe

    assert main(["calibrate", "--records", t1, "--drafter", str(d)]) == 0
    assert main(["calibrate", "--records", t1, "--drafter", str(d), "--regime", "greedy"]) == 0
    before = json.loads((d / "calibration.json").read_text())
    assert main(["calibrate", "--records", t07, "--drafter", str(d), "--temperature", "0.7"]) == 0
    assert "(sampled at T 0.7)" in capsys.readouterr().out
    data = json.loads((d / "calibration.json").read_text())
    assert {k: v for k, v in data.items() if k != "by_temperature"} == before
    b07, b1 = data["by_temperature"]["0.7"]["biases"], data["biases"]
    assert b07 != b1
    r = runtime(data)
    for t, want in ((0.7, b07), (0.5, b07), (0.84, b07), (0.85, b1), (1.0, b1), (1.5, b1)):
        assert r.fit_in_use(False, t)[1] == want, t
    assert r.fit_in_use(True, 0.7)[1] == data["greedy"]["biases"]
    z = torch.tensor([0.3, -0.2, 1.0])
    temps, biases = r.fit_in_use(False, 0.7)[:2]
    assert torch.allclose(r.calibrated(z, temperature=0.7), torch.sigmoid(z / torch.tensor(temps) + torch.tensor(biases)))
    assert runtime(r.calibration()).fit_in_use(False, 0.7) == r.fit_in_use(False, 0.7)    # written back
    from dspark.drafters.checkpoint import calibration_of      # what eval reports the ECE with
    assert calibration_of(r, temperature=0.7)["biases"] == b07
    assert calibration_of(r, temperature=1.0)["biases"] == b1 and "by_temperature" not in calibration_of(r, temperature=1.0)
    # behind lookup: the file's fits until the section has its own for T 0.7
    assert runtime(data, True).fit_in_use(False, 0.7)[1] == b07
    assert main(["calibrate", "--records", behind, "--drafter", str(d), "--temperature", "0.7", "--behind-lookup"]) == 0
    data2 = json.loads((d / "calibration.json").read_text())
    assert set(data2["behind_lookup"]) == {"by_temperature"}
    assert {k: v for k, v in data2.items() if k != "behind_lookup"} == data
    rb = runtime(data2, True)
    assert rb.fit_in_use(False, 0.7)[1] == data2["behind_lookup"]["by_temperature"]["0.7"]["biases"] != b07
    assert rb.fit_in_use(False, 1.0)[1] == b1 and runtime(data2).fit_in_use(False, 0.7)[1] == b07
    # --score reads the fit a request at that temperature gets
    capsys.readouterr()
    assert main(["calibrate", "--records", t07, "--drafter", str(d), "--temperature", "0.7", "--score"]) == 0
    out = capsys.readouterr().out
    assert "sampled at T 0.7" in out and f"{data['by_temperature']['0.7']['temperatures'][0]:7.3f}" in out
    for bad in ({"warm": {"temperatures": [1.0] * 3}}, {"1": {"temperatures": [1.0] * 3}},
                {"0.7": {"temperatures": [1.0] * 2}}, [1.0]):
        with pytest.raises(DSparkError):
            runtime({"temperatures": [1.0] * 3, "by_temperature": bad})
    assert main(["calibrate", "--records", t07, "--drafter", str(d), "--temperature", "0.7", "--regime", "greedy"]) != 0
    assert "--temperature is for --regime sampled" in capsys.readouterr().err


def test_ece_noise_floor_is_what_perfect_calibration_scores():
    """The floor is the ECE of a perfectly calibrated head on as many rounds: outcomes drawn from
    the predictions score near it, it halves with 4x the rounds, and a head off by 0.1 scores far
    above it."""
    from deepspec.eval.calibration import ece_noise_floor
    rng = np.random.default_rng(3)
    pred = rng.beta(2, 3, 4000)
    floor = ece_noise_floor(pred)
    honest = [ece(pred, rng.random(pred.size) < pred) for _ in range(20)]
    assert 0.7 * floor < np.mean(honest) < 1.3 * floor
    assert 0.4 < ece_noise_floor(np.tile(pred, 4)) / floor < 0.6
    assert ece(np.clip(pred + 0.1, 0, 1), rng.random(pred.size) < pred) > 3 * floor
    assert ece_noise_floor([]) is None


# ------------------------------------------------------------------------- online calibration

def _requests(levels, rounds=60, gamma=4, seed=0):
    """Records of one request per survival level: every slot survives with that probability while
    the head says 0.5 throughout (logit 0), as a head would for a request from a domain of its own."""
    rng = np.random.default_rng(seed)
    out = []
    for rid, p in enumerate(levels):
        for _ in range(rounds):
            a = 0
            while a < gamma and rng.random() < p:
                a += 1
            out.append(RoundRecord(gamma, a, a + 1, confidence_logits=[0.0] * gamma, request=rid))
    return out


def test_calibrate_picks_an_online_rate_where_requests_differ():
    """Requests whose drafts survive at 0.2 or 0.85 under one flat confidence: the fixed fit can
    only say the average, the online offsets learn each request's level (the rate is chosen on the
    fit rounds, scored on the others). Requests that all behave alike get (almost) no online rate."""
    differ = calibrate(_requests([0.2, 0.85] * 20), holdout_fraction=0.5, seed=0)
    assert differ["online_rate"] >= 0.05
    assert differ["auc_after"][0] > 0.75                       # the fixed calibration ranks nothing (0.5)
    assert differ["brier_after"][0] < 0.8 * brier(*calibration_dataset(
        _requests([0.2, 0.85] * 20), differ["temperatures"], biases=differ["biases"])[1])
    alike = calibrate(_requests([0.5] * 40), holdout_fraction=0.5, seed=0)
    assert alike["online_rate"] <= 0.02
    forced = calibrate(_requests([0.2, 0.85] * 20), online_rate=0.0)
    assert forced["online_rate"] == 0.0 and forced["online_rate_nll"] is None
    assert forced["ece_after"] == forced["ece_after_fixed"]
    # records without request ids (written before they existed): no online rate
    legacy = [RoundRecord(r.proposed, r.accepted, r.committed, confidence_logits=r.confidence_logits)
              for r in _requests([0.2, 0.85] * 5)]
    assert calibrate(legacy)["online_rate"] == 0.0


def test_replay_steps_each_request_from_zero():
    """The replay restarts the offsets at every new request and leaves records without one alone."""
    recs = _requests([0.9, 0.1], rounds=30, gamma=2)
    c, _, _ = runtime_confidences(recs, online_rate=0.2)
    assert c[0].tolist() == [0.5, 0.5] and c[30].tolist() == [0.5, 0.5]     # both requests start flat
    assert c[29, 0] > 0.7 and c[59, 0] < 0.3                                # and learn their own level
    bare = [RoundRecord(r.proposed, r.accepted, r.committed, confidence_logits=r.confidence_logits) for r in recs]
    assert (runtime_confidences(bare, online_rate=0.2)[0] == 0.5).all()


def test_load_records_keeps_requests_of_different_files_apart(tmp_path):
    a = write_records(_requests([0.5], rounds=3), str(tmp_path / "a.jsonl"))
    b = write_records(_requests([0.5], rounds=3), str(tmp_path / "b.jsonl"))     # request 0 as well
    ids = [r.request for r in load_records([a, b])]
    assert ids[:3] == [ids[0]] * 3 and ids[3:] == [ids[3]] * 3 and ids[0] != ids[3]


def test_cli_calibrate_writes_the_online_rate(tmp_path, capsys):
    recs = write_records(_requests([0.2, 0.85] * 10), str(tmp_path / "r.jsonl"))
    d = tmp_path / "drafter"
    d.mkdir()
    parser = argparse.ArgumentParser()
    add_calibrate_arguments(parser)
    assert run_calibrate(parser.parse_args(["--records", recs, "--drafter", str(d), "--regime", "greedy"])) == 0
    out = capsys.readouterr().out
    assert "online rate, by the NLL of the fit rounds" in out
    data = json.loads((d / "calibration.json").read_text())
    assert data["greedy"]["online_rate"] > 0 and "online_rate" not in data          # identity top level
    with pytest.raises(DSparkError, match="online-rate"):
        run_calibrate(parser.parse_args(["--records", recs, "--online-rate", "1.5"]))


def test_calibration_in_use_is_what_the_runtime_applies():
    """The one rule that says which fit applies to a request (regime, behind lookup or not), as
    `deepspec calibrate --score` reads calibration.json, and the drafter's confidences follow it."""
    from dspark.drafters.dspark import DSparkDrafter, calibration_in_use
    fit = lambda t, b, rate=0.0: {"temperatures": [t] * 3, "biases": [b] * 3, "online_rate": rate}  # noqa: E731
    files = [{**fit(1.5, -0.5, 0.03), "greedy": fit(1.1, 0.2, 0.2),
              "behind_lookup": {**fit(0.9, 0.1, 0.05), "greedy": fit(0.8, -0.1, 0.08)}},
             {**fit(1.5, -0.5), "behind_lookup": {"greedy": fit(0.8, -0.1, 0.08)}},   # one regime behind lookup
             {**fit(1.5, -0.5, 0.03), "greedy": fit(1.1, 0.2, 0.2)},                    # no lookup section
             fit(2.0, 0.0)]                                                              # sampled only
    # (file, greedy, behind lookup) -> (temperature, bias, online rate) of the fit that applies
    expected = {(0, False, False): (1.5, -0.5, 0.03), (0, True, False): (1.1, 0.2, 0.2),
                (0, False, True): (0.9, 0.1, 0.05), (0, True, True): (0.8, -0.1, 0.08),
                (1, False, False): (1.5, -0.5, 0.0), (1, True, False): (1.5, -0.5, 0.0),
                (1, False, True): (1.5, -0.5, 0.0), (1, True, True): (0.8, -0.1, 0.08),
                **{(2, g, b): ((1.1, 0.2, 0.2) if g else (1.5, -0.5, 0.03)) for g in (False, True) for b in (False, True)},
                **{(3, g, b): (2.0, 0.0, 0.0) for g in (False, True) for b in (False, True)}}
    z = torch.tensor([[0.3, -1.2, 2.0]])
    for (i, greedy, behind), (t, b, rate) in expected.items():
        assert calibration_in_use(files[i], greedy, behind) == ([t] * 3, [b] * 3, rate, [0.0] * 3)
        probe = DSparkDrafter.__new__(DSparkDrafter)
        probe.gamma = 3
        probe.load_calibration(files[i])
        if behind:
            probe.behind_lookup()
        assert torch.allclose(probe.calibrated(z, greedy=greedy), torch.sigmoid(z / t + b))
        assert probe.fit_in_use(greedy)[2] == rate
    with pytest.raises(DSparkError, match="'greedy' section"):
        calibration_in_use({**fit(1.0, 0.0), "greedy": {"temperatures": [1.0]}}, True, gamma=3)
    # a fit with curvatures (sts-beta): the drafter applies them as deepspec's metrics do, writes them
    # back, and a curvature that would bend the map out of order (|e| > 1 / T) is refused
    bent = {**fit(1.5, -0.5, 0.03), "behind_lookup": {**fit(0.9, 0.1), "curvatures": [0.4, -0.3, 1.1]}}
    probe = DSparkDrafter.__new__(DSparkDrafter)
    probe.gamma = 3
    probe.load_calibration(bent)
    probe.behind_lookup()
    assert probe.fit_in_use(False).curvatures == [0.4, -0.3, 1.1] and probe.calibration()["curvatures"] == [0.4, -0.3, 1.1]
    want = calibrated_confidences(z.double().numpy(), [0.9] * 3, [0.1] * 3, [0.4, -0.3, 1.1])
    assert np.allclose(probe.calibrated(z).numpy(), want, atol=1e-6)
    with pytest.raises(DSparkError, match="curvatures"):
        calibration_in_use({**fit(1.0, 0.0), "curvatures": [0.0, 1.5, 0.0]}, False, gamma=3)


def test_cli_calibrate_score_scores_the_shipped_calibration(tmp_path, capsys):
    """--score fits nothing: the drafter's calibration.json, applied as the runtime applies it, scored
    on rounds it was not fitted on; over-confident raw logits score far better calibrated."""
    from deepspec.cli import main
    d = tmp_path / "d"
    fit_on = write_records(synthetic_rounds(1500, 3, seed=11), str(tmp_path / "fit.jsonl"))
    assert main(["calibrate", "--records", fit_on, "--drafter", str(d), "--regime", "greedy"]) == 0
    before = (d / "calibration.json").read_text()
    fresh = [write_records(synthetic_rounds(700, 3, seed=s), str(tmp_path / f"s{s}.jsonl")) for s in (12, 13)]
    capsys.readouterr()
    assert main(["calibrate", "--records", *fresh, "--drafter", str(d), "--regime", "greedy", "--score",
                 "--out", str(tmp_path / "score")]) == 0
    out = capsys.readouterr().out
    assert "no fit" in out and "1400 rounds in 2 file(s)" in out
    assert (d / "calibration.json").read_text() == before                 # nothing written into the drafter
    score = json.loads((tmp_path / "score" / "score.json").read_text())
    g = json.loads(before)["greedy"]
    assert (score["temperatures"], score["biases"]) == (g["temperatures"], g["biases"])
    assert score["num_rounds"] == 1400 and score["records"] == fresh
    assert score["after"]["ece"][0] < 0.5 * score["before"]["ece"][0]
    assert _is_png(tmp_path / "score" / "reliability.png")
    # the sampled regime reads the top level, identity here: raw confidences
    assert main(["calibrate", "--records", *fresh, "--drafter", str(d), "--score", "--out", str(tmp_path / "s2")]) == 0
    s2 = json.loads((tmp_path / "s2" / "score.json").read_text())
    assert s2["after"]["ece"] == s2["before"]["ece"]
    assert main(["calibrate", "--records", *fresh, "--score"]) == 2                        # which drafter?
    assert main(["calibrate", "--records", *fresh, "--score", "--drafter", str(tmp_path / "none")]) == 2
    assert main(["calibrate", "--records", *fresh, "--score", "--drafter", str(d), "--online-rate", "0.1"]) == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "calibration.json").write_text("{not json")
    assert main(["calibrate", "--records", *fresh, "--score", "--drafter", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "not JSON" in err and "--online-rate" in err
    # an sts-beta fit writes its curvatures (the greedy fit stays), and --score applies them
    bent = [write_records(synthetic_rounds(3000, 3, seed=s, overconfidence=1.0, bend=-0.6), str(tmp_path / f"b{s}.jsonl"))
            for s in (14, 15)]
    assert main(["calibrate", "--records", bent[0], "--drafter", str(d), "--method", "sts-beta"]) == 0
    top = json.loads((d / "calibration.json").read_text())
    assert top["method"] == "sts-beta" and top["curvatures"][0] < -0.3 and top["greedy"] == g
    assert main(["calibrate", "--records", bent[1], "--drafter", str(d), "--score", "--out", str(tmp_path / "s3")]) == 0
    s3 = json.loads((tmp_path / "s3" / "score.json").read_text())
    assert s3["curvatures"] == top["curvatures"] and s3["after"]["ece"][0] < 0.5 * s3["before"]["ece"][0]
