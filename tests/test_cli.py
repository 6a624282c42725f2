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


def assert_clean_error(r, *words, command="dspark generate"):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{command}: error:"), r.stderr
    for w in words:
        assert w in last, last


def test_unknown_target():
    assert_clean_error(dspark("generate", "hi", "--target", "no-such-model"), "unknown target", "smollm2-135m")


@pytest.mark.slow
def test_missing_and_corrupt_weights(tmp_path, smol):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text((smol.path / "config.json").read_text())
    assert_clean_error(dspark("generate", "hi", "--target", str(d)), "no *.safetensors")
    data = (smol.path / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 3])      # truncated download
    assert_clean_error(dspark("generate", "hi", "--target", str(d)), "corrupt weights")


@pytest.mark.slow
def test_prompt_longer_than_context(smol):
    r = dspark("generate", "word " * 9000, "--drafter", "none")
    assert_clean_error(r, "prompt has")


@pytest.mark.slow
def test_unknown_drafter_and_dtype(smol):
    assert_clean_error(dspark("generate", "hi", "--drafter", "/no/such/dir"), "unknown drafter")
    assert_clean_error(dspark("generate", "hi", "--dtype", "int3"), "unknown dtype")


@pytest.mark.slow
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


# --- arguments are checked before anything loads (each of these returns in about a second) ------

def test_empty_prompt_is_refused_before_loading():
    r = dspark("generate", "  ", timeout=60)
    assert_clean_error(r, "is empty")


def test_serve_checks_its_address_before_loading():
    import socket
    r = dspark("serve", "--port", "99999", timeout=60)
    assert_clean_error(r, "not a TCP port", command="dspark serve")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = dspark("serve", "--port", str(s.getsockname()[1]), timeout=60)
    assert_clean_error(r, "already in use", command="dspark serve")


def test_bench_checks_policies_and_dataset_before_loading(tmp_path):
    assert_clean_error(dspark("bench", "--policies", "none,warp", timeout=60), "unknown policy 'warp'",
                       command="dspark bench")
    assert_clean_error(dspark("bench", "--dataset", str(tmp_path / "none.jsonl"), timeout=60), "no such file",
                       command="dspark bench")


def test_help_lists_choices_and_ends_cleanly():
    from dspark.schedule import POLICIES
    r = dspark("generate", "--help", timeout=60)
    assert r.returncode == 0 and all(p in r.stdout for p in POLICIES)
    r = dspark("pull", "--help", timeout=60)
    assert "smollm2-135m" in r.stdout and "gemma3-270m" in r.stdout
    r = subprocess.run([sys.executable, "-m", "deepspec.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.rstrip().endswith(".")
    for command in ("prompts", "regenerate", "cache", "train", "eval", "calibrate"):
        assert command in r.stdout
    r = dspark("generate", "--policy", "warp", timeout=60)
    assert r.returncode == 2 and "invalid choice" in r.stderr
