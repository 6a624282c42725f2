"""`deepspec eval` end to end on a tiny model: two shared datasets, three samples each, a drafter
with a confidence head and the n-gram drafter; the table, results.json, round records and plots."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dspark.drafters import NgramDrafter
from dspark.drafters.ngram import LookupFirst
from dspark.drafters.checkpoint import load_drafter, save_drafter
from deepspec.eval.evaluate import evaluate, load_eval_prompts

from lossless import random_trained_drafter

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval_datasets"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_eval_writes_results_table_and_plots(tiny_chat_target, tmp_path, temperature):
    target = tiny_chat_target
    ckpt = save_drafter(random_trained_drafter("dspark", target.model, gamma=4, markov_rank=8), tmp_path / "dspark-tiny",
                        target.name)
    # a calibrated checkpoint: the report must score the calibrated confidences too
    (Path(ckpt) / "calibration.json").write_text(json.dumps({"temperatures": [2.0, 0.5, 1.5, 1.0],
                                                             "online_rate": 0.3}))
    drafters = {"dspark-tiny": load_drafter(ckpt, target), "ngram": NgramDrafter(gamma=4),
                "ngram+dspark-tiny": LookupFirst(load_drafter(ckpt, target), min_match=1)}
    datasets = {name: load_eval_prompts(EVAL_DIR / f"{name}.jsonl", 3, seed=0) for name in ("gsm8k", "mbpp")}
    out = tmp_path / "eval"
    res = evaluate(target, drafters, datasets, temperature, max_new_tokens=12, seed=0, out=out)

    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(res))
    for name in drafters:
        d = saved["drafters"][name]
        for ds in datasets:
            s = d["datasets"][ds]
            for key in ("tau", "accept_rate", "conditional_acceptance", "accepted_histogram", "tokens_per_second"):
                assert key in s
            assert s["tau"] >= 1.0
            assert (out / "rounds" / name / f"{ds}.jsonl").exists()
        assert "tau" in d["macro"]
        assert len(d["pooled_conditional_acceptance"]) == max(s["gamma"] for s in d["datasets"].values())
    # a combined drafter's rounds split by where each proposal came from, all of them counted once
    assert "by_source" not in saved["drafters"]["dspark-tiny"]
    for name in ("ngram", "ngram+dspark-tiny"):
        parts, d = saved["drafters"][name]["by_source"], saved["drafters"][name]
        rounds = sum(s["rounds"] for s in d["datasets"].values())
        assert sum(v["rounds"] for v in parts.values()) == rounds
        assert sum(v["share"] for v in parts.values()) == pytest.approx(1.0)
        pooled_tau = sum(s["tau"] * s["rounds"] for s in d["datasets"].values()) / rounds
        assert sum(v["tau"] * v["rounds"] for v in parts.values()) / rounds == pytest.approx(pooled_tau)
        assert f"rounds of {name} by source: " in (out / "results.md").read_text()
    assert set(saved["drafters"]["ngram"]["by_source"]) <= {f"ngram:{n}" for n in range(5)}
    assert set(saved["drafters"]["ngram+dspark-tiny"]["by_source"]) - {f"ngram:{n}" for n in range(1, 5)} == {"dspark"}
    conf = saved["drafters"]["dspark-tiny"]["confidence"]
    # the online offsets are replayed as the runtime applied them; the fixed calibration is scored too
    assert set(conf) == {"raw", "calibrated", "online_rate", "calibrated_fixed"} and conf["online_rate"] == 0.3
    assert conf["raw"]["ece"] != conf["calibrated_fixed"]["ece"] != conf["calibrated"]["ece"]
    assert len(saved["drafters"]["dspark-tiny"]["macro"]["tau_by_block"]) == 4
    table = (out / "results.md").read_text()
    assert "| gsm8k |" in table and "| **macro** |" in table and "dspark-tiny" in table
    assert "ECE of dspark-tiny's prefix-survival estimate (calibrated)" in table and "ECE of ngram'" not in table
    # behind n-gram lookup the trained drafter's confidences are scored as it calibrated them
    assert "ECE of ngram+dspark-tiny's prefix-survival estimate (calibrated)" in table
    for png in ["conditional_acceptance.png", "threshold_sweep-dspark-tiny.png", "reliability-dspark-tiny.png"]:
        assert (out / png).read_bytes()[:8] == PNG
    # tau against block length from whole-block rounds holds where a verdict reads only earlier
    # slots: greedy, not the block rule that sampled rounds use by default
    assert (out / "block_length.png").exists() == (temperature == 0)
    assert ("block verification" in table) == (temperature > 0)
    if temperature == 0:
        _records_name_their_drafter(target, ckpt, out, tmp_path)


def _records_name_their_drafter(target, ckpt, out, tmp_path):
    """The rounds of a trained drafter (alone or behind lookup) name its weights; `deepspec calibrate`
    fits and scores a drafter on its own rounds and on its fp16 copy's, and refuses another drafter's."""
    from deepspec.cli import main
    from dspark.drafters.checkpoint import checkpoint_digest
    from dspark.files import load_safetensors, save_safetensors
    own = checkpoint_digest(ckpt)
    for name in ("dspark-tiny", "ngram+dspark-tiny"):
        assert json.loads((out / "rounds" / name / "drafter.json").read_text()) == {
            "algorithm": name.replace("-tiny", ""), "weights_digest": own}
    assert not (out / "rounds" / "ngram" / "drafter.json").exists()            # lookup has no weights
    records = [str(p) for p in sorted((out / "rounds" / "dspark-tiny").glob("*.jsonl"))]
    half = tmp_path / "fp16"                                                   # the ship's cast: same drafter
    half.mkdir()
    for f in ("config.json", "calibration.json"):
        (half / f).write_bytes((Path(ckpt) / f).read_bytes())
    save_safetensors({k: v.half() if v.is_floating_point() else v
                      for k, v in load_safetensors(Path(ckpt) / "model.safetensors").items()}, half / "model.safetensors")
    assert main(["calibrate", "--records", *records, "--drafter", str(half), "--score"]) == 0
    other = save_drafter(random_trained_drafter("dspark", target.model, gamma=4, seed=1, markov_rank=8),
                         tmp_path / "other", target.name)
    (Path(other) / "calibration.json").write_bytes((Path(ckpt) / "calibration.json").read_bytes())
    before = (Path(other) / "calibration.json").read_text()
    for extra in (["--score"], ["--regime", "greedy"]):
        assert main(["calibrate", "--records", *records, "--drafter", str(other), *extra]) == 2
    assert (Path(other) / "calibration.json").read_text() == before           # nothing fitted into it
    assert main(["calibrate", "--records", *records, "--drafter", str(ckpt), "--regime", "greedy"]) == 0


def test_eval_is_deterministic_for_a_seed(tiny_chat_target, tmp_path):
    target = tiny_chat_target
    datasets = {"mbpp": load_eval_prompts(EVAL_DIR / "mbpp.jsonl", 2, seed=1)}
    runs = [evaluate(target, {"ngram": NgramDrafter(gamma=3)}, datasets, 1.0, 10, seed=5, out=tmp_path / str(i))
            for i in range(2)]
    strip = lambda r: {k: v for k, v in r["drafters"]["ngram"]["datasets"]["mbpp"].items()  # noqa: E731
                       if k not in ("tokens_per_second", "elapsed_s")}
    assert strip(runs[0]) == strip(runs[1])


def test_drafter_labels(tmp_path):
    from deepspec.eval.evaluate import drafter_name
    (tmp_path / "dspark-x" / "final").mkdir(parents=True)
    (tmp_path / "dspark-x" / "checkpoints" / "step_000150").mkdir(parents=True)
    (tmp_path / "mine").mkdir()
    assert drafter_name(str(tmp_path / "dspark-x" / "final")) == "dspark-x"
    assert drafter_name(str(tmp_path / "dspark-x" / "checkpoints" / "step_000150")) == "dspark-x@step_000150"
    assert drafter_name(str(tmp_path / "mine")) == "mine"
    assert drafter_name("ngram") == "ngram"
    # the repository's committed drafters live in checkpoints/ too, but are not a run's step
    (tmp_path / "repo" / "checkpoints" / "dspark-smollm2-135m").mkdir(parents=True)
    assert drafter_name(str(tmp_path / "repo" / "checkpoints" / "dspark-smollm2-135m")) == "dspark-smollm2-135m"
