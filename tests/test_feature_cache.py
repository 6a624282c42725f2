"""The on-disk target-feature cache: round trip against online features, fingerprint and checksum
checks, resumable builds, the size estimate, the q8 storage dtype, `deepspec cache` (dry run and
build) and training from a cache."""
from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import pytest
import torch

from deepspec.data.feature_cache import (MANIFEST, CachedFeatures, build_cache, bytes_per_token, dequantize_q8,
                                         estimate_bytes, quantize_q8, target_fingerprint)
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


@pytest.fixture(scope="module")
def q8_build(model, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("q8") / "cache"
    rec = _Recording(model)
    _build(model, samples, out, dtype="q8", source=rec)
    return out, rec.got


@pytest.fixture(scope="module")
def q8_cache(q8_build):
    return q8_build[0]


def test_roundtrip_float32_exact(model, samples, f32_build):
    f32_cache, computed = f32_build
    m = json.loads((f32_cache / MANIFEST).read_text())
    assert m["complete"] and len(m["shards"]) >= 4, "the test needs several shards"
    assert m["tap_layers"] == list(TAPS) and m["hidden_size"] == 64 and m["dtype"] == "float32"
    assert m["target"]["name"] == "tiny" and m["target"]["num_layers"] == 4
    assert m["total_tokens"] == sum(len(s.input_ids) for s in samples)
    assert m["arrays"] == {"input_ids": {"dtype": "int32", "width": 1}, "loss_mask": {"dtype": "uint8", "width": 1},
                           "taps": {"dtype": "float32", "width": 3 * 64}, "hidden": {"dtype": "float32", "width": 64}}
    assert all(list(sh["files"]) == list(m["arrays"]) for sh in m["shards"])
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


def test_roundtrip_q8_within_half_a_step(model, samples, q8_build):
    q8_cache, computed = q8_build
    m = json.loads((q8_cache / MANIFEST).read_text())
    assert m["dtype"] == "q8" and len(m["shards"]) >= 4
    assert m["arrays"] == {"input_ids": {"dtype": "int32", "width": 1}, "loss_mask": {"dtype": "uint8", "width": 1},
                           "taps": {"dtype": "int8", "width": 3 * 64}, "taps_scale": {"dtype": "float16", "width": 6},
                           "hidden": {"dtype": "int8", "width": 64}, "hidden_scale": {"dtype": "float16", "width": 2}}
    assert all(sorted(sh["files"]) == sorted(sh["sha256"]) == sorted(m["arrays"]) for sh in m["shards"])
    cached = CachedFeatures(q8_cache, target=model, verify_checksums=True)
    for s, f in zip(samples, cached(samples)):
        assert f.taps.dtype == f.hidden.dtype == torch.float32
        for got, x in ((f.taps, computed[s.id][0]), (f.hidden, computed[s.id][1])):
            assert got.shape == x.shape
            # the writer's quantize_q8 read back through dequantize_q8, bit for bit ...
            assert torch.equal(got, dequantize_q8(*quantize_q8(x)))
            # ... within half a step of the float features in every block of 32; the step is
            # absmax / 127 rounded up to fp16 (at most 2^-10 more)
            err = (got - x).abs().unflatten(-1, (-1, 32)).amax(-1)
            step = x.abs().unflatten(-1, (-1, 32)).amax(-1) / 127
            assert (err <= step / 2 * (1 + 2 ** -10)).all()
            assert (err > 0).any(), "the features were quantized"
    # a requested dtype is the float32 dequantization cast once
    bf = CachedFeatures(q8_cache, dtype="bfloat16")(samples[:2])
    for f, g in zip(bf, cached(samples[:2])):
        assert f.hidden.dtype == torch.bfloat16 and torch.equal(f.taps, g.taps.bfloat16())


def test_quantize_q8_blocks():
    x = torch.randn(5, 4 * 32, generator=torch.Generator().manual_seed(0))
    x[0, :32] = 0                                    # an all-zero block: scale 0, codes 0
    x[1, 32:64] *= 1e-6                              # a block with a subnormal fp16 scale
    x[2, 64:96] = torch.linspace(-1, 1, 32)          # absmax 1 -> codes -127 .. 127
    q, d = quantize_q8(x)
    assert q.dtype == torch.int8 and q.shape == x.shape and d.dtype == torch.float16 and d.shape == (5, 4)
    assert d[0, 0] == 0 and not q[0, :32].any()
    assert q[2, 64] == -127 and q[2, 95] == 127 and q.abs().max() <= 127
    y = dequantize_q8(q, d)
    err = (y - x).abs().unflatten(-1, (-1, 32)).amax(-1)
    assert (err <= d.float() / 2).all() and d[1, 1] < 2 ** -14
    # each block's scale depends on its 32 values only: blocks never mix (taps never mix)
    x2 = x.clone()
    x2[:, 32:] *= 100
    assert torch.equal(quantize_q8(x2)[1][:, 0], d[:, 0]) and torch.equal(quantize_q8(x2)[0][:, :32], q[:, :32])
    assert torch.equal(quantize_q8(x)[0], q), "deterministic"
    with pytest.raises(DSparkError, match="out of the q8"):
        quantize_q8(torch.full((32,), float("nan")))
    with pytest.raises(DSparkError, match="out of the q8"):
        quantize_q8(torch.full((32,), 1e8))


def test_estimate_equals_bytes_on_disk(samples, f32_cache, q8_cache):
    n = sum(len(s.input_ids) for s in samples)
    assert bytes_per_token(64, 3, torch.float32) == 4 + 1 + 4 * 64 * 4
    assert _shard_bytes(f32_cache) == estimate_bytes(n, 64, len(TAPS), torch.float32)
    manifest = (f32_cache / MANIFEST).stat().st_size
    assert sum(p.stat().st_size for p in f32_cache.iterdir()) == _shard_bytes(f32_cache) + manifest
    # the paper's figure 6 + 2*H*(L+1) for bf16, one byte less per token here (see the module doc)
    assert bytes_per_token(576, 5, "bfloat16") == 6917 and bytes_per_token(640, 5, "bf16") == 7685
    # q8: an int8 per value plus an fp16 scale per 32 values
    assert bytes_per_token(64, 3, "q8") == 4 + 1 + 4 * (64 + 2 * 2)
    assert _shard_bytes(q8_cache) == estimate_bytes(n, 64, len(TAPS), "q8")
    assert bytes_per_token(576, 5, "q8") == 3677 and bytes_per_token(640, 5, "q8") == 4085
    with pytest.raises(DSparkError, match="not a multiple of 32"):
        bytes_per_token(48, 3, "q8")


@pytest.mark.parametrize("cache", ["f32_cache", "q8_cache"])
def test_subset_of_taps(samples, cache, request):
    """One cache serves drafters that read fewer layers: the asked-for columns, in the asked order
    (a q8 cache's blocks and scales are per tap, so those columns come back bit for bit too)."""
    cache = request.getfixturevalue(cache)
    full = CachedFeatures(cache)
    sub = CachedFeatures(cache, tap_layers=(3, 0))
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


@pytest.mark.parametrize("dtype,array", [(torch.float32, "taps"), ("q8", "taps_scale")])
def test_corrupt_or_missing_shard(model, samples, tmp_path, dtype, array):
    out = tmp_path / "c"
    _build(model, samples, out, dtype=dtype)
    victim = out / f"00001.{array}.bin"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
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


@pytest.mark.parametrize("dtype,reference", [(torch.float32, "f32_cache"), ("q8", "q8_cache")])
def test_interrupted_build_resumes_identically(model, samples, tmp_path, dtype, reference, request):
    reference = request.getfixturevalue(reference)
    out = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):   # killed inside the first shard: nothing committed
        _build(model, samples, out, dtype=dtype, source=_Dies(model, die_at=1))
    assert json.loads((out / MANIFEST).read_text())["shards"] == []
    with pytest.raises(KeyboardInterrupt):   # killed again, some shards later
        _build(model, samples, out, dtype=dtype, source=_Dies(model, die_at=5))
    m = json.loads((out / MANIFEST).read_text())
    assert not m["complete"] and 1 <= len(m["shards"]) < 5
    assert list(out.glob("*.partial")), "the killed shard is left half written"
    with pytest.raises(DSparkError, match="incomplete.*resume"):
        CachedFeatures(out)
    committed = set(m["samples"])
    second = _Dies(model, die_at=None)
    _build(model, samples, out, dtype=dtype, source=second)
    assert not committed & set(second.seen), "committed samples are not computed again"
    assert sorted(second.seen) == sorted(set(second.seen))
    assert not list(out.glob("*.partial"))
    assert _files(out) == _files(reference), "resumed cache differs from an uninterrupted build"
    # a rerun of a complete cache does nothing; other settings are refused
    third = _Dies(model, die_at=None)
    _build(model, samples, out, dtype=dtype, source=third)
    assert third.calls == 0
    c = CachedFeatures(out)
    assert len(pickle.loads(pickle.dumps(c))(samples[:2])) == 2   # e.g. to DataLoader workers
    with pytest.raises(DSparkError, match="other settings"):
        _build(model, samples, out, dtype=torch.bfloat16)


def test_products_are_recorded_and_never_mixed(model, samples, tmp_path):
    """The arithmetic of the target's products is part of a cache's settings: a resume with another
    one is refused; a cache from before it was recorded (made without bf16 products, which came
    later) resumes, except with bf16 products."""
    out = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):
        _build(model, samples, out, source=_Dies(model, die_at=3), products="int8")
    m = json.loads((out / MANIFEST).read_text())
    assert m["target_products"] == "int8" and m["shards"] and not m["complete"]
    with pytest.raises(DSparkError, match="target_products"):
        _build(model, samples, out, products="bf16")
    del m["target_products"]                      # as written before the products were recorded
    (out / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(DSparkError, match="target_products"):
        _build(model, samples, out, products="bf16 from 32 rows, int8 below")
    assert _build(model, samples, out, products="int8")["complete"]


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


@pytest.mark.parametrize("dtype", ["float32", "q8"])
def test_cli_dry_run_writes_nothing(target_dir, data_file, tmp_path, capsys, dtype):
    from deepspec.data.tokenize import load_tokenized
    out = tmp_path / "never"
    assert _cli(["cache", "--target", str(target_dir), "--data", str(data_file), "--taps", "0,1,3",
                 "--out", str(out), "--dry-run", "--dtype", dtype]) == 0
    assert not out.exists()
    text = capsys.readouterr().out
    n = sum(len(s.input_ids) for s in load_tokenized(data_file, None, 768))
    assert f"{bytes_per_token(64, 3, dtype):,} bytes/token" in text
    assert f"{estimate_bytes(n, 64, 3, dtype):,} bytes" in text


def test_cli_build_matches_online(target_dir, data_file, tmp_path, capsys):
    from dspark.models.loader import load_target
    from deepspec.data.tokenize import load_tokenized
    out = tmp_path / "cache"
    assert _cli(["cache", "--target", str(target_dir), "--data", str(data_file), "--taps", "0,1,3",
                 "--out", str(out), "--shard-tokens", "50", "--no-progress", "--limit", "9",
                 "--products", "int8"]) == 0
    text = capsys.readouterr().out
    assert text.index("bytes/token") < text.index("cache written")      # estimate first
    target = load_target(str(target_dir), tokenizer=False)
    fast = target.model.runtime is not None
    assert json.loads((out / MANIFEST).read_text())["target_products"] == ("int8" if fast else "torch float32")
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
    # the default (auto) takes bf16 products where the CPU has AMX (elsewhere the integer kernel is
    # faster): the same features within a few %, and the manifest says which products made them
    from dspark.models.runtime import cpu_has_amx
    auto = tmp_path / "auto"
    assert _cli(["cache", "--target", str(target_dir), "--data", str(data_file), "--taps", "0,1,3",
                 "--out", str(auto), "--no-progress", "--limit", "9"]) == 0
    products = json.loads((auto / MANIFEST).read_text())["target_products"]
    assert products.startswith("bf16") == (fast and cpu_has_amx())
    for f, ref in zip(CachedFeatures(auto)(samples), online):
        torch.testing.assert_close(f.taps.float(), ref.taps, rtol=0.05, atol=0.05 * ref.taps.abs().max().item())
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


# --- training from a cache -------------------------------------------------------------------

def _train(tmp_path: Path, target_dir: Path, data_file: Path, features: str) -> list[dict]:
    """Two DSpark training steps on the tiny target; the logged rows."""
    from deepspec.train.config import load_config
    from deepspec.train.trainer import Trainer
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = tmp_path / f"{Path(features).name}.toml"
    out = tmp_path / f"run-{Path(features).name}"
    cfg.write_text(f'algorithm = "dspark"\ntarget = {json.dumps(str(target_dir))}\nout_dir = {json.dumps(str(out))}\n'
                   f'threads = 1\nseed = 0\n[drafter]\nblock_size = 4\nmarkov_rank = 16\n'
                   f'[data]\ntokenized = [{json.dumps(str(data_file))}]\nmax_len = 64\nfeatures = {json.dumps(features)}\n'
                   f'[batch]\nsequences = 4\nanchors_per_seq = 4\n[schedule]\ntotal_steps = 2\n'
                   f'[logging]\ncheckpoint_every = 100\ntensorboard = false\nprogress = false\n')
    Trainer(load_config(cfg), resume="never").run()
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def online_run(target_dir, data_file, tmp_path_factory) -> list[dict]:
    return _train(tmp_path_factory.mktemp("online"), target_dir, data_file, "online")


@pytest.mark.parametrize("dtype", ["bfloat16", "q8"])
def test_training_from_a_cache(target_dir, data_file, online_run, tmp_path, dtype, capsys):
    """data.features = a cache directory trains like online features, from a bf16 or a q8 cache
    (holding more taps than the drafter reads: the tiny target's drafter taps are 1, 2)."""
    out = tmp_path / dtype
    assert _cli(["cache", "--target", str(target_dir), "--data", str(data_file), "--taps", "0,1,2,3",
                 "--out", str(out), "--dtype", dtype, "--no-progress"]) == 0
    rows = _train(tmp_path, target_dir, data_file, str(out))
    assert [r["step"] for r in rows] == [1, 2] and [r["sample_ids"] for r in rows] == [r["sample_ids"] for r in online_run]
    for r, ref in zip(rows, online_run):
        # bf16 and q8 both move the loss by about 1e-5 of itself here
        assert abs(r["loss"] - ref["loss"]) <= 1e-3 * abs(ref["loss"]), (dtype, r["loss"], ref["loss"])


def test_training_reads_a_cache_being_extended(target_dir, data_file, tmp_path, capsys):
    """A cache that more samples are being added to (its manifest says incomplete until the new
    shards are in) still trains the runs whose samples its committed shards hold, exactly as
    before; a run needing a sample it lacks is refused before its first step, naming the cause."""
    first = tmp_path / "first8.jsonl"
    first.write_text("".join(data_file.read_text().splitlines(keepends=True)[:8]))
    out = tmp_path / "cache"
    assert _cli(["cache", "--target", str(target_dir), "--data", str(first), "--taps", "0,1,2,3",
                 "--out", str(out), "--dtype", "q8", "--no-progress"]) == 0
    with pytest.raises(DSparkError, match=r"4 of this run's 11 samples are not in the feature cache") as e:
        _train(tmp_path / "all", target_dir, data_file, str(out))
    assert "incomplete" not in str(e.value)
    before = _train(tmp_path / "a", target_dir, first, str(out))

    m = json.loads((out / MANIFEST).read_text())
    m["complete"] = False          # what `deepspec cache` writes before it adds its first new shard
    (out / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(DSparkError, match="incomplete.*resume"):
        CachedFeatures(out)        # a plain reader still insists on a whole cache
    assert not CachedFeatures(out, require_complete=False).complete
    capsys.readouterr()
    during = _train(tmp_path / "b", target_dir, first, str(out))
    assert "being extended" in capsys.readouterr().err
    assert [(r["sample_ids"], r["loss"]) for r in during] == [(r["sample_ids"], r["loss"]) for r in before]
    with pytest.raises(DSparkError, match=r"not in the feature cache.*build is incomplete"):
        _train(tmp_path / "all2", target_dir, data_file, str(out))
