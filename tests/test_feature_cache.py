"""The on-disk target-feature cache: round trip against online features, fingerprint and checksum
checks, resumable builds, the size estimate and `deepspec cache` (dry run and build)."""
from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import pytest
import torch

from deepspec.data.feature_cache import (MANIFEST, CachedFeatures, build_cache, bytes_per_token,
                                         estimate_bytes, target_fingerprint)
from deepspec.data.features import OnlineFeatures
from deepspec.data.tokenize import TokenizedSample
from dspark.errors import DSparkError
from dspark.models.config import ModelConfig
from dspark.models.decoder import TargetModel

TAPS = (0, 1, 3)


def _cfg(**overrides) -> ModelConfig:
    base = dict(arch="llama", vocab_size=300, hidden_size=64, intermediate_size=128, num_layers=4, num_heads=4,
                num_kv_heads=2, head_dim=16, eos_token_ids=[2])
    base.update(overrides)
    return ModelConfig(**base)


@pytest.fixture(scope="module")
def model() -> TargetModel:
    torch.manual_seed(0)
    return TargetModel(_cfg()).eval()


@pytest.fixture(scope="module")
def samples() -> list[TokenizedSample]:
    rng = random.Random(0)
    out = []
    for i in range(12):
        n = rng.randint(3, 24)
        out.append(TokenizedSample(f"s{i}", [rng.randrange(300) for _ in range(n)],
                                   [rng.randint(0, 1) for _ in range(n)]))
    return out


def _fp(model):
    return target_fingerprint(model.cfg, TAPS, name="tiny")


def _build(model, samples, out, dtype=torch.float32, source=None, **kw):
    source = source or OnlineFeatures(model, TAPS)
    return build_cache(samples, source, out, _fp(model), dtype=dtype, shard_tokens=40, batch_tokens=30,
                       progress=False, **kw)


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _shard_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.glob("*.bin"))


class _Recording:
    """OnlineFeatures that keeps a copy of every Features it returns, by sample id."""

    def __init__(self, model):
        self.inner, self.got = OnlineFeatures(model, TAPS), {}
        self.tap_layers = self.inner.tap_layers

    def __call__(self, batch):
        feats = self.inner(batch)
        self.got.update({s.id: (f.taps.clone(), f.hidden.clone()) for s, f in zip(batch, feats)})
        return feats


@pytest.fixture(scope="module")
def f32_build(model, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("f32") / "cache"
    rec = _Recording(model)
    _build(model, samples, out, source=rec)
    return out, rec.got


@pytest.fixture(scope="module")
def f32_cache(f32_build):
    return f32_build[0]


def test_roundtrip_float32_exact(model, samples, f32_build):
    f32_cache, computed = f32_build
    m = json.loads((f32_cache / MANIFEST).read_text())
    assert m["complete"] and len(m["shards"]) >= 4, "the test needs several shards"
    assert m["tap_layers"] == list(TAPS) and m["hidden_size"] == 64 and m["dtype"] == "float32"
    assert m["target"]["name"] == "tiny" and m["target"]["num_layers"] == 4
    assert m["total_tokens"] == sum(len(s.input_ids) for s in samples)
    cached = CachedFeatures(f32_cache, target=model, verify_checksums=True)
    assert cached.tap_layers == TAPS and len(cached) == len(samples)
    # Bit-exact against what the target computed during the build, and equal to online features
    # computed one sample per forward up to float32 round-off (a flat batch of other samples
    # changes the matmul blocking, not the math).
    online = OnlineFeatures(model, TAPS)
    got = cached(list(reversed(samples)))
    for s, f in zip(reversed(samples), got):
        assert f.taps.shape == (len(s.input_ids), len(TAPS) * 64) and f.hidden.shape == (len(s.input_ids), 64)
        assert f.taps.dtype == torch.float32
        assert torch.equal(f.taps, computed[s.id][0]) and torch.equal(f.hidden, computed[s.id][1])
        ref = online([s])[0]
        torch.testing.assert_close(f.taps, ref.taps, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(f.hidden, ref.hidden, rtol=1e-5, atol=1e-5)
    # The stored samples come back as they went in, in build order.
    back = cached.samples()
    assert [(s.id, s.input_ids, s.loss_mask) for s in back] == [(s.id, s.input_ids, s.loss_mask) for s in samples]
    # A requested dtype converts on read.
    assert CachedFeatures(f32_cache, dtype="bfloat16")(samples[:1])[0].hidden.dtype == torch.bfloat16


def test_roundtrip_bfloat16(model, samples, tmp_path):
    _build(model, samples, tmp_path / "c", dtype=torch.bfloat16)
    cached = CachedFeatures(tmp_path / "c", target=model)
    online = OnlineFeatures(model, TAPS)(samples)
    for f, ref in zip(cached(samples), online):
        assert f.taps.dtype == torch.bfloat16 and f.hidden.dtype == torch.bfloat16
        # within bf16 rounding of the float32 features (8 mantissa bits)
        torch.testing.assert_close(f.taps.float(), ref.taps, rtol=2 ** -8, atol=1e-6)
        torch.testing.assert_close(f.hidden.float(), ref.hidden, rtol=2 ** -8, atol=1e-6)
    assert _shard_bytes(tmp_path / "c") == estimate_bytes(sum(len(s.input_ids) for s in samples), 64, len(TAPS),
                                                          torch.bfloat16)


def test_estimate_equals_bytes_on_disk(samples, f32_cache):
    n = sum(len(s.input_ids) for s in samples)
    assert bytes_per_token(64, 3, torch.float32) == 4 + 1 + 4 * 64 * 4
    assert _shard_bytes(f32_cache) == estimate_bytes(n, 64, len(TAPS), torch.float32)
    manifest = (f32_cache / MANIFEST).stat().st_size
    assert sum(p.stat().st_size for p in f32_cache.iterdir()) == _shard_bytes(f32_cache) + manifest
    # the paper's figure 6 + 2*H*(L+1) for bf16, one byte less per token here (see the module doc)
    assert bytes_per_token(576, 5, "bfloat16") == 6917 and bytes_per_token(640, 5, "bf16") == 7685


def test_subset_of_taps(samples, f32_cache):
    """One cache serves drafters that read fewer layers: the asked-for columns, in the asked order."""
    full = CachedFeatures(f32_cache)
    sub = CachedFeatures(f32_cache, tap_layers=(3, 0))
    assert sub.tap_layers == (3, 0)
    for f, g in zip(full(samples[:3]), sub(samples[:3])):
        per_layer = f.taps.view(f.taps.shape[0], len(TAPS), 64)
        assert g.taps.shape == (f.taps.shape[0], 2 * 64)
        assert torch.equal(g.taps, torch.cat([per_layer[:, 2], per_layer[:, 0]], -1))
        assert torch.equal(g.hidden, f.hidden)


def test_other_target_is_refused(model, f32_cache):
    for other, what in [(_cfg(hidden_size=32, head_dim=8, intermediate_size=64), "hidden_size"),
                        (_cfg(num_layers=6), "num_layers"), (_cfg(vocab_size=301), "vocab_size"),
                        (_cfg(arch="qwen3", qk_norm=True), "arch")]:
        with pytest.raises(DSparkError, match=what):
            CachedFeatures(f32_cache, target=other)
    with pytest.raises(DSparkError, match="tap layers"):
        CachedFeatures(f32_cache, target=model, tap_layers=(1, 2, 3))
    with pytest.raises(DSparkError, match="not in the feature cache"):
        CachedFeatures(f32_cache)([TokenizedSample("nope", [1, 2], [1, 1])])
    with pytest.raises(DSparkError, match="differ from the cached"):
        CachedFeatures(f32_cache)([TokenizedSample("s0", [1, 2], [1, 1])])


def test_corrupt_or_missing_shard(model, samples, tmp_path):
    out = tmp_path / "c"
    _build(model, samples, out)
    victim = out / "00001.taps.bin"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    CachedFeatures(out)  # same size: only the checksum notices
    with pytest.raises(DSparkError, match="checksum"):
        CachedFeatures(out, verify_checksums=True)
    victim.write_bytes(bytes(data[:-4]))
    with pytest.raises(DSparkError, match="truncated"):
        CachedFeatures(out)
    victim.unlink()
    with pytest.raises(DSparkError, match="missing"):
        CachedFeatures(out)


class _Dies:
    """OnlineFeatures that raises on its n-th call (a killed build) and records what it computed."""

    def __init__(self, model, die_at: int | None):
        self.inner, self.die_at, self.calls, self.seen = OnlineFeatures(model, TAPS), die_at, 0, []
        self.tap_layers = self.inner.tap_layers

    def __call__(self, batch):
        self.calls += 1
        if self.die_at is not None and self.calls == self.die_at:
            raise KeyboardInterrupt("killed")
        self.seen += [s.id for s in batch]
        return self.inner(batch)


def test_interrupted_build_resumes_identically(model, samples, f32_cache, tmp_path):
    out = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):   # killed inside the first shard: nothing committed
        _build(model, samples, out, source=_Dies(model, die_at=1))
    assert json.loads((out / MANIFEST).read_text())["shards"] == []
    with pytest.raises(KeyboardInterrupt):   # killed again, some shards later
        _build(model, samples, out, source=_Dies(model, die_at=5))
    m = json.loads((out / MANIFEST).read_text())
    assert not m["complete"] and 1 <= len(m["shards"]) < 5
    assert list(out.glob("*.partial")), "the killed shard is left half written"
    with pytest.raises(DSparkError, match="incomplete.*resume"):
        CachedFeatures(out)
    committed = set(m["samples"])
    second = _Dies(model, die_at=None)
    _build(model, samples, out, source=second)
    assert not committed & set(second.seen), "committed samples are not computed again"
    assert sorted(second.seen) == sorted(set(second.seen))
    assert not list(out.glob("*.partial"))
    assert _files(out) == _files(f32_cache), "resumed cache differs from an uninterrupted build"
    # a rerun of a complete cache does nothing; other settings are refused
    third = _Dies(model, die_at=None)
    _build(model, samples, out, source=third)
    assert third.calls == 0
    c = CachedFeatures(out)
    assert len(pickle.loads(pickle.dumps(c))(samples[:2])) == 2   # e.g. to DataLoader workers
    with pytest.raises(DSparkError, match="other settings"):
        _build(model, samples, out, dtype=torch.bfloat16)


# --- CLI -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def target_dir(model, tmp_path_factory) -> Path:
    """The tiny target saved as a Hugging Face directory (config.json + safetensors, no tokenizer)."""
    from safetensors.torch import save_file
    d = tmp_path_factory.mktemp("tiny-target")
    cfg = model.cfg
    (d / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads, "head_dim": cfg.head_dim, "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope.theta, "tie_word_embeddings": True, "eos_token_id": 2,
        "max_position_embeddings": 512}))
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, str(d / "model.safetensors"))
    return d


@pytest.fixture(scope="module")
def data_file(samples, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("data") / "tok.jsonl"
    p.write_text("".join(json.dumps({"id": s.id, "input_ids": s.input_ids, "loss_mask": s.loss_mask}) + "\n"
                         for s in samples))
    return p


def _cli(argv) -> int:
    from deepspec.cli import main
    return main(argv)


def test_cli_dry_run_writes_nothing(target_dir, data_file, tmp_path, capsys):
    from deepspec.data.tokenize import load_tokenized
    out = tmp_path / "never"
    assert _cli(["cache", "--target", str(target_dir), "--data", str(data_file), "--taps", "0,1,3",
                 "--out", str(out), "--dry-run", "--dtype", "float32"]) == 0
    assert not out.exists()
    text = capsys.readouterr().out
    n = sum(len(s.input_ids) for s in load_tokenized(data_file, None, 768))
    assert f"{bytes_per_token(64, 3, 'float32'):,} bytes/token" in text
    assert f"{estimate_bytes(n, 64, 3, 'float32'):,} bytes" in text


def test_cli_build_matches_online(target_dir, data_file, tmp_path, capsys):
    from dspark.models.loader import load_target
    from deepspec.data.tokenize import load_tokenized
    out = tmp_path / "cache"
    assert _cli(["cache", "--target", str(target_dir), "--data", str(data_file), "--taps", "0,1,3",
                 "--out", str(out), "--shard-tokens", "50", "--no-progress", "--limit", "9"]) == 0
    text = capsys.readouterr().out
    assert text.index("bytes/token") < text.index("cache written")      # estimate first
    target = load_target(str(target_dir), tokenizer=False)
    samples = load_tokenized(data_file, None, 768)[:9]
    cached = CachedFeatures(out, target=target, tap_layers=TAPS)
    assert cached.manifest["dtype"] == "bfloat16" and cached.manifest["target"]["name"] == target_dir.name
    assert len(cached) == 9
    online = OnlineFeatures(target.model, TAPS)(samples)
    for f, ref in zip(cached(samples), online):
        torch.testing.assert_close(f.taps.float(), ref.taps, rtol=2 ** -8, atol=1e-6)
        torch.testing.assert_close(f.hidden.float(), ref.hidden, rtol=2 ** -8, atol=1e-6)
    n = sum(len(s.input_ids) for s in samples)
    assert _shard_bytes(out) == estimate_bytes(n, 64, 3, "bfloat16")
    # a wrong tap list for the target is a clear error
    assert _cli(["cache", "--target", str(target_dir), "--data", str(data_file), "--taps", "0,9",
                 "--out", str(tmp_path / "x"), "--dry-run"]) == 2
    assert "--taps" in capsys.readouterr().err


def test_cli_dry_run_tokenizes_conversations(tmp_path, capsys):
    """--dry-run on regenerated conversations counts tokens with the real target's tokenizer."""
    from dspark.models.loader import converted_dir
    if not (converted_dir("smollm2-135m") / "config.json").exists():
        pytest.skip("smollm2-135m is not converted locally")
    from transformers import AutoTokenizer

    from deepspec.data.tokenize import load_tokenized
    data = tmp_path / "regen.jsonl"
    rows = [{"id": f"c{i}", "conversations": [{"role": "user", "content": f"What is {i} + {i}?"},
                                              {"role": "assistant", "content": f"{i} + {i} = {2 * i}."}],
             "generation": {"finish_reasons": ["eos"]}} for i in range(3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "never"
    assert _cli(["cache", "--target", "smollm2-135m", "--data", str(data), "--taps", "1,7,13,19,25",
                 "--out", str(out), "--dry-run"]) == 0
    assert not out.exists()
    text = capsys.readouterr().out
    tok = AutoTokenizer.from_pretrained(str(converted_dir("smollm2-135m")))
    n = sum(len(s.input_ids) for s in load_tokenized(data, tok, 768))
    assert n > 0 and f"{n:,} tokens in 3 samples" in text
    assert "6,917 bytes/token" in text and f"{estimate_bytes(n, 576, 5, 'bfloat16'):,} bytes" in text
