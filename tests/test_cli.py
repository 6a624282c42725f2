"""Bad input at the command line: one clear line on stderr, a non-zero exit, no traceback. And the
main job's JSON output contract."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module", autouse=True)
def private_sps_tables(tmp_path_factory):
    """The commands below run with their own DSPARK_HOME: the user's converted models, packed
    weights and built kernels linked in, but SPS tables of their own. A `dspark generate` after a
    kernel change profiles the SPS table again, and one profiled while the suite runs is skewed
    (steeper steps, so the policy verifies fewer drafts): it must not replace the user's."""
    from dspark.files import cache_root
    home = tmp_path_factory.mktemp("dspark-home")
    for name in ("gguf", "kernels", "models", "packed"):
        (cache_root() / name).mkdir(parents=True, exist_ok=True)
        (home / name).symlink_to(cache_root() / name, target_is_directory=True)
    (home / "sps").mkdir()
    for table in (cache_root() / "sps").glob("*.json"):   # reused while the kernels are the same
        (home / "sps" / table.name).write_bytes(table.read_bytes())
    _private_home[0] = str(home)
    yield home
    _private_home[0] = None


_private_home: list[str | None] = [None]


def dspark(*args, env=None, timeout=300):
    home = {"DSPARK_HOME": _private_home[0]} if _private_home[0] else {}
    return subprocess.run([sys.executable, "-m", "dspark.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **home, **(env or {})})


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
    for key in ("text", "token_ids", "num_new_tokens", "rounds", "tau", "tokens_per_second", "elapsed_s", "first_token_s"):
        assert key in out
    assert out["num_new_tokens"] == len(out["token_ids"]) <= 12
    assert out["text"]


def test_committed_drafters_load_by_name(smol):
    from dspark.drafters import (DEFAULT_DRAFTER, DEFAULT_DRAFTERS, LOOKUP_FIRST, committed_drafter_path,
                                 default_drafter, load)
    from dspark.errors import DSparkError
    assert load("dspark", smol).algorithm == "dspark" and load("mtp", smol).algorithm == "mtp"
    assert type(load("default", smol)) is type(load(default_drafter(smol.name), smol))
    # every per-target default is a committed drafter of that target (or one needing no training)
    for target_name, spec in DEFAULT_DRAFTERS.items():
        spec = spec.removeprefix(LOOKUP_FIRST)
        assert spec in ("ngram", "none") or committed_drafter_path(spec, target_name) is not None
    assert default_drafter("a-target-with-no-entry") == DEFAULT_DRAFTER
    with pytest.raises(DSparkError, match="no committed dflash drafter"):
        load("dflash", smol)


# --- arguments are checked before anything loads: run in this process (no model, no subprocess) ---

def run_main(capsys, *argv):
    """`dspark ARGV` through its main(); (exit code, stderr) as a user sees them."""
    from dspark.cli import main
    code = main(list(argv))
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, command, *words):
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{command}: error:"), err
    for w in words:
        assert w in lines[0], lines[0]


def test_empty_prompt_is_refused_before_loading(capsys, monkeypatch):
    import dspark.cli.options as options
    monkeypatch.setattr(options, "load_target_and_drafter", lambda *a, **k: pytest.fail("loaded a model"))
    for prompt in ("", "  \n"):
        assert_one_line_error(*run_main(capsys, "generate", prompt), "dspark generate", "is empty")


def test_serve_checks_its_address_before_loading(capsys, monkeypatch):
    import socket

    import dspark.cli.serve as serve
    monkeypatch.setattr(serve, "load_target_and_drafter", lambda *a, **k: pytest.fail("loaded a model"))
    assert_one_line_error(*run_main(capsys, "serve", "--port", "99999"), "dspark serve", "not a TCP port")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        assert_one_line_error(*run_main(capsys, "serve", "--port", port), "dspark serve", "already in use")


def test_bench_checks_policies_and_dataset_before_loading(capsys, monkeypatch, tmp_path):
    import dspark.cli.bench as bench
    monkeypatch.setattr(bench, "load_target_and_drafter", lambda *a, **k: pytest.fail("loaded a model"))
    assert_one_line_error(*run_main(capsys, "bench", "--policies", "none,warp"), "dspark bench",
                          "unknown policy 'warp'")
    assert_one_line_error(*run_main(capsys, "bench", "--dataset", str(tmp_path / "none.jsonl")), "dspark bench",
                          "no such file")


def test_help_lists_choices_and_ends_cleanly(capsys):
    from deepspec.cli import main as deepspec_main
    from dspark.cli import main as dspark_main
    from dspark.schedule import POLICIES

    def help_of(main, *argv):
        with pytest.raises(SystemExit) as e:
            main([*argv, "--help"])
        assert e.value.code == 0
        return capsys.readouterr().out
    assert all(p in help_of(dspark_main, "generate") for p in [*POLICIES, "auto"])
    # every command that decodes sampled requests can pick the verification rule
    for main, command in [(dspark_main, "generate"), (dspark_main, "serve"), (dspark_main, "bench"),
                          (deepspec_main, "eval")]:
        assert "--verification {block,token}" in help_of(main, command)
    out = help_of(dspark_main, "pull")
    assert "smollm2-135m" in out and "gemma3-270m" in out
    out = help_of(deepspec_main)
    assert out.rstrip().endswith(".")
    for command in ("prompts", "regenerate", "cache", "train", "eval", "calibrate"):
        assert command in out
    with pytest.raises(SystemExit) as e:
        dspark_main(["generate", "--policy", "warp"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_text_stream_emits_the_decoded_text_in_pieces():
    """Streamed text, fed in pieces of 1-3 tokens, adds up to the whole decode and never shows a
    half multi-byte character; each feed decodes a window, not the whole output."""
    import random

    from conftest import smol_tokenizer
    from dspark.generate import TextStream
    _, tok = smol_tokenizer()
    text = "Héllo wörld! 你好，世界。 Emoji: 🎉🚀 and code:\n```python\ndef f(x):\n    return x ** 2  # ∑\n```\n" * 2
    ids = tok.encode(text, add_special_tokens=False)
    want = tok.decode(ids, skip_special_tokens=True)
    rng = random.Random(0)
    for trial in range(10):
        seen = []
        stream = TextStream(tok, seen.append)
        i = 0
        while i < len(ids):
            k = rng.randint(1, 3)
            delta = stream.feed(ids[i:i + k])
            assert "\ufffd" not in delta, trial
            i += k
        stream.feed([], final=True)
        assert "".join(seen) == stream.emitted == want, trial
    # decodes are of a window of the last tokens: their total length stays linear in the output
    lengths = []

    class Counting:
        def decode(self, ids, skip_special_tokens=True):
            lengths.append(len(ids))
            return tok.decode(ids, skip_special_tokens=skip_special_tokens)

    stream = TextStream(Counting(), None)
    long = ids * 10
    for i in range(len(long)):
        stream.feed(long[i:i + 1])
    stream.feed([], final=True)
    assert stream.emitted == tok.decode(long, skip_special_tokens=True)
    assert sum(lengths) < 12 * len(long)


def test_text_stream_keeps_the_spaces_a_decode_drops_at_its_start():
    """SentencePiece decodes drop the space of the first token: a window that starts at the new
    tokens alone would lose the spaces between feeds; the stream's window starts one emission back."""
    from dspark.generate import TextStream
    pieces = [" a", " b", "c", " d", " e"]

    class LeadingSpace:
        def decode(self, ids, skip_special_tokens=True):
            return "".join(pieces[i] for i in ids).removeprefix(" ")

    ids = [0, 1, 2, 3, 4, 1, 2]
    stream = TextStream(LeadingSpace(), None)
    for t in ids:
        stream.feed([t])
    stream.feed([], final=True)
    assert stream.emitted == LeadingSpace().decode(ids) == "a bc d e bc"


def test_text_stream_compares_whole_decodes_when_a_window_disagrees():
    """A decode that marks a lone trailing "b" (so the window [b] is not a prefix of the window
    [b, a]): the stream falls back to comparing whole decodes and still emits the whole text."""
    from dspark.generate import TextStream

    class Marking:
        def decode(self, ids, skip_special_tokens=True):
            s = "".join("ab"[i] for i in ids)
            return s + "!" if s == "b" else s

    stream = TextStream(Marking(), None)
    for t in [0, 1, 0, 1, 1, 0]:
        stream.feed([t])
    stream.feed([], final=True)
    assert stream.emitted == "ababba"


def test_stop_strings_are_found_in_a_window_where_the_whole_decode_finds_them():
    """Engine._stopped decodes only the last tokens: on text with multi-byte characters, fed in
    chunks of 1-4 tokens, it first reports a stop string at the same chunk as a search of the whole
    decoded output, for stop strings of several lengths (spaces and multi-byte characters included)."""
    import random
    from types import SimpleNamespace

    from conftest import smol_tokenizer
    from dspark.engine import Engine
    _, tok = smol_tokenizer()
    text = ("Héllo wörld! 你好，世界。 The answer is 42. Emoji: 🎉🚀 and code:\n```python\ndef f(x):\n"
            "    return x ** 2  # ∑ done\n```\nUser: thanks") * 2
    ids = tok.encode(text, add_special_tokens=False)
    engine = SimpleNamespace(tokenizer=tok)
    rng = random.Random(1)
    for stop in (["42."], ["世界"], ["🚀 and"], ["\n```\nUser:"], ["∑ done", "zzz"], [" thanks"], ["never"]):
        for trial in range(5):
            seq = SimpleNamespace(stop=stop, output_ids=[])
            found = want = None
            i = chunk = 0
            while i < len(ids) and found is None:
                k = rng.randint(1, 4)
                seq.output_ids += ids[i:i + k]
                i += k
                chunk += 1
                if Engine._stopped(engine, seq, k):
                    found = chunk
                if want is None and any(s in tok.decode(seq.output_ids) for s in stop):
                    want = chunk
            assert found == want, (stop, trial)
