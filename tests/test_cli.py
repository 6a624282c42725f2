"""Bad input at the command line: one clear line on stderr, a non-zero exit, no traceback. And the
main job's JSON output contract."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def dspark(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "dspark.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def assert_clean_error(r, *words):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("dspark generate: error:"), r.stderr
    for w in words:
        assert w in last, last


def test_unknown_target():
    assert_clean_error(dspark("generate", "hi", "--target", "no-such-model"), "unknown target", "smollm2-135m")


def test_missing_and_corrupt_weights(tmp_path, smol):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text((smol.path / "config.json").read_text())
    assert_clean_error(dspark("generate", "hi", "--target", str(d)), "no *.safetensors")
    data = (smol.path / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 3])      # truncated download
    assert_clean_error(dspark("generate", "hi", "--target", str(d)), "corrupt weights")


def test_prompt_longer_than_context(smol):
    r = dspark("generate", "word " * 9000, "--drafter", "none")
    assert_clean_error(r, "prompt has")


def test_unknown_drafter_and_dtype(smol):
    assert_clean_error(dspark("generate", "hi", "--drafter", "/no/such/dir"), "unknown drafter")
    assert_clean_error(dspark("generate", "hi", "--dtype", "int3"), "unknown dtype")


def test_generate_json_contract(smol):
    r = dspark("generate", "Name three primary colors.", "--max-tokens", "12", "--json", "--drafter", "ngram")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("text", "token_ids", "num_new_tokens", "rounds", "tau", "tokens_per_second", "elapsed_s"):
        assert key in out
    assert out["num_new_tokens"] == len(out["token_ids"]) <= 12
    assert out["text"]


def test_committed_drafters_load_by_name(smol):
    from dspark.drafters import DEFAULT_DRAFTER, load
    from dspark.errors import DSparkError
    assert load("dspark", smol).algorithm == "dspark" and load("mtp", smol).algorithm == "mtp"
    assert type(load("default", smol)) is type(load(DEFAULT_DRAFTER, smol))
    with pytest.raises(DSparkError, match="no committed dflash drafter"):
        load("dflash", smol)
