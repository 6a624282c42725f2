"""Shared fixtures: tiny random targets (built here, no download) and the real default target.

Device: DSPARK_TEST_DEVICE=cuda (or cuda:1, mps) puts every tiny model on that device; the tests
marked `gpu` (losslessness, sampling, the statistics) are the ones meant to run there, e.g.
`DSPARK_TEST_DEVICE=cuda python -m pytest -m gpu` (scripts/gpu_check.py does it). Default: cpu."""
from __future__ import annotations

import functools
import os

import pytest
import torch

from dspark.models.config import ModelConfig
from dspark.models.decoder import TargetModel

# Tiny models: one thread avoids oversubscription when other jobs share the two cores.
torch.set_num_threads(1)

TEST_DEVICE = torch.device(os.environ.get("DSPARK_TEST_DEVICE", "cpu"))


def tiny_config(arch: str = "llama", vocab: int = 96, **overrides) -> ModelConfig:
    base = dict(arch=arch, vocab_size=vocab, hidden_size=32, intermediate_size=64, num_layers=3,
                num_heads=4, num_kv_heads=2, head_dim=8, eos_token_ids=[1], max_position_embeddings=512)
    if arch in ("qwen3", "gemma3"):
        base["qk_norm"] = True
    if arch == "gemma3":
        from dspark.models.config import RopeConfig
        base.update(sandwich_norm=True, norm_offset=True, embed_scale=32 ** 0.5, hidden_act="gelu_tanh",
                    attn_scale=16 ** -0.5, sliding_window=6, layer_types=["sliding", "sliding", "full"],
                    rope=RopeConfig(1e6), rope_local=RopeConfig(1e4))
    base.update(overrides)
    return ModelConfig(**base)


def tiny_model(arch: str = "llama", vocab: int = 96, seed: int = 0, dtype=torch.float64, **overrides) -> TargetModel:
    """Random weights with a wide logit spread, in float64 so greedy ties cannot flip."""
    torch.manual_seed(seed)
    model = TargetModel(tiny_config(arch, vocab, **overrides))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.normal_(0, 0.3)
    return model.to(device=TEST_DEVICE, dtype=dtype).eval()


@pytest.fixture(scope="session")
def smol():
    """The real default target (SmolLM2-135M-Instruct), fp32."""
    from dspark.models.loader import load_target
    return load_target("smollm2-135m")


@functools.cache
def smol_tokenizer():
    """(path, tokenizer) of the real SmolLM2 (`dspark pull` installs it on a fresh machine)."""
    from transformers import AutoTokenizer

    from dspark.models.loader import pull
    path = pull("smollm2-135m")
    return path, AutoTokenizer.from_pretrained(str(path))


def tiny_target(model: TargetModel | None = None, name: str = "tiny-smol", **overrides):
    """THE tiny target of the tests: a tiny model (given, or tiny_model() with the SmolLM2
    vocabulary and `overrides`) behind the real SmolLM2 tokenizer and chat template: every text path
    (chat template, detokenization, eval, serving) at the cost of a toy forward."""
    from dspark.models.loader import Target
    path, tok = smol_tokenizer()
    if model is None:
        kw = dict(dtype=torch.float32, eos_token_ids=[2], max_position_embeddings=2048)
        kw.update(overrides)
        model = tiny_model("llama", vocab=49152, **kw)
    return Target(name, path, model, tok)


@pytest.fixture(scope="session")
def tiny_chat_target():
    return tiny_target()


def pytest_collection_modifyitems(config, items):
    """Every test on the real SmolLM2 (the `smol` fixture) is slow: it loads 135M parameters."""
    for item in items:
        if "smol" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
