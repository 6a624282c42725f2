"""Our decoder against transformers' reference implementation, and the KV cache's rollback."""
from __future__ import annotations

import pytest
import torch

from dspark.batch import FlatBatch
from dspark.models.config import ModelConfig
from dspark.models.loader import build_target_model

from conftest import tiny_model


def hf_tiny(arch: str):
    import transformers as tf
    common = dict(vocab_size=120, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=8, max_position_embeddings=256, tie_word_embeddings=True,
                  rms_norm_eps=1e-6)
    if arch == "llama":
        cfg = tf.LlamaConfig(**common, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        cls = tf.LlamaForCausalLM
    elif arch == "qwen3":
        cfg = tf.Qwen3Config(**common, rope_parameters={"rope_type": "default", "rope_theta": 1e6})
        cls = tf.Qwen3ForCausalLM
    else:
        cfg = tf.Gemma3TextConfig(**common, sliding_window=6, query_pre_attn_scalar=16,
                                  layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                                  hidden_activation="gelu_pytorch_tanh",
                                  rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                                                   "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}})
        cls = tf.Gemma3ForCausalLM
    cfg._attn_implementation = "eager"
    torch.manual_seed(1)
    model = cls(cfg).eval()
    with torch.no_grad():  # non-trivial norms too (Gemma's start at zero)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma3"])
def test_tiny_parity_with_transformers(arch):
    hf = hf_tiny(arch)
    cfg = ModelConfig.from_hf(hf.config)
    assert cfg.arch == arch
    ours = build_target_model(cfg, hf.state_dict(), "cpu", torch.float32)
    ids = torch.randint(0, 120, (1, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = hf(ids).logits[0]
    cache = ours.new_cache(2, 64)
    slot = cache.allocate()
    # Chunked: 13 tokens, then 7 (past Gemma's sliding window of 6).
    a = ours(FlatBatch.build([(slot, 0, ids[0, :13].tolist())], "cpu"), cache).logits
    b = ours(FlatBatch.build([(slot, 13, ids[0, 13:].tolist())], "cpu"), cache).logits
    got = torch.cat([a, b])
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_flat_batch_equals_separate_sequences(arch):
    model = tiny_model(arch)
    toks = [list(range(5, 19)), list(range(30, 37)), [40]]
    cache = model.new_cache(3, 64)
    alone = []
    for t in toks:
        s = cache.allocate()
        alone.append(model(FlatBatch.build([(s, 0, t)], "cpu"), cache).logits)
        cache.release(s)
    slots = [cache.allocate() for _ in toks]
    out = model(FlatBatch.build([(s, 0, t) for s, t in zip(slots, toks)], "cpu"), cache)
    torch.testing.assert_close(out.logits, torch.cat(alone), rtol=0, atol=1e-10)
    # Second step with different numbers of new tokens per sequence (one of them zero-context).
    more = [[3, 4, 5], [6], [7, 8]]
    out2 = model(FlatBatch.build([(s, len(t), m) for s, t, m in zip(slots, toks, more)], "cpu"), cache)
    fresh = model.new_cache(1, 64)
    ref = []
    for t, m in zip(toks, more):
        s = fresh.allocate()
        ref.append(model(FlatBatch.build([(s, 0, t + m)], "cpu"), fresh).logits[len(t):])
        fresh.release(s)
    torch.testing.assert_close(out2.logits, torch.cat(ref), rtol=0, atol=1e-10)


def test_rollback_forgets_rejected_tokens():
    model = tiny_model("gemma3")   # sliding-window layers included
    cache = model.new_cache(1, 64)
    s = cache.allocate()
    prefix = list(range(10, 22))
    model(FlatBatch.build([(s, 0, prefix)], "cpu"), cache)
    model(FlatBatch.build([(s, 12, [50, 51, 52, 53])], "cpu"), cache)   # drafts, then rejected
    cache.truncate(s, 13)                                                  # keep one of them
    got = model(FlatBatch.build([(s, 13, [60, 61])], "cpu"), cache).logits
    fresh = model.new_cache(1, 64)
    f = fresh.allocate()
    want = model(FlatBatch.build([(f, 0, prefix + [50, 60, 61])], "cpu"), fresh).logits[-2:]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_logit_rows_taps_and_hidden():
    model = tiny_model("llama")
    cache = model.new_cache(1, 32)
    s = cache.allocate()
    b = FlatBatch.build([(s, 0, [3, 4, 5, 6])], "cpu", logit_rows=[1, 3])
    out = model(b, cache, taps=(0, 2))
    assert out.logits.shape == (2, model.cfg.vocab_size)
    assert [t.shape for t in out.taps] == [(4, 32), (4, 32)]
    torch.testing.assert_close(out.logits, model.logits(out.hidden[[1, 3]]))


def test_smollm2_matches_transformers(smol):
    """Real weights: the exact precision (fp32 activations) matches transformers' forward within 1e-4
    relative; the default fast precision (8-bit activations, as llama.cpp computes) within 10 % of
    the largest logit (6 % measured), with the same top-1 token at nearly every position."""
    from transformers import AutoModelForCausalLM

    from dspark.models.loader import load_target
    hf = AutoModelForCausalLM.from_pretrained(str(smol.path), dtype=torch.float32).eval()
    ids = smol.encode_prompt("Explain what a hash map is, in two sentences.")
    with torch.no_grad():
        ref = hf(torch.tensor([ids])).logits[0]
    exact = load_target("smollm2-135m", tokenizer=False, precision="exact").model
    assert exact.runtime is None and smol.model.runtime is not None
    for model, tolerance, agreement in ((exact, 1e-4, 0.95), (smol.model, 0.1, 0.9)):
        cache = model.new_cache(1, 128)
        s = cache.allocate()
        got = model(FlatBatch.build([(s, 0, ids)], "cpu"), cache).logits
        rel = (got - ref).abs().max() / ref.abs().max()
        assert rel < tolerance, rel
        assert (got.argmax(-1) == ref.argmax(-1)).float().mean() > agreement


@pytest.mark.parametrize("mask_kind", ["none", "shared", "per_sequence", "broadcast_rows"])
def test_attend_training_path_matches_grouped_heads(mask_kind):
    """Under autograd on a CPU, `attend` folds the query heads that share a key head into rows of
    one head; outputs and gradients must equal the plain grouped-query computation."""
    import torch.nn.functional as F

    from dspark.models.layers import attend
    torch.manual_seed(0)
    b, hq, hkv, n, m, d = 2, 6, 2, 5, 9, 8
    mask = {"none": None,
            "shared": torch.rand(1, 1, n, m) > 0.3,
            "per_sequence": torch.rand(b, 1, n, m) > 0.3,
            "broadcast_rows": torch.rand(b, 1, 1, m) > 0.3}[mask_kind]
    if mask is not None:
        mask[..., 0] = True                      # every query sees at least one key
    leaves = [torch.randn(b, h, rows, d, dtype=torch.float64, requires_grad=True)
              for h, rows in ((hq, n), (hkv, m), (hkv, m))]
    out = attend(*leaves, mask, 0.3)
    grads = torch.autograd.grad(out.square().sum(), leaves)
    q, k, v = (t.detach().requires_grad_() for t in leaves)
    ref = F.scaled_dot_product_attention(q, k.repeat_interleave(hq // hkv, 1), v.repeat_interleave(hq // hkv, 1),
                                         attn_mask=mask, scale=0.3)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    torch.testing.assert_close(out, ref)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)
    with torch.no_grad():                        # the inference path (enable_gqa) gives the same values
        torch.testing.assert_close(attend(*leaves, mask, 0.3), ref.detach())
