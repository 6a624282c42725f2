"""Packed weights (models/packed.py): the block-affine form is recovered bit for bit from quantized
fp32 matrices, the exact precision's C kernel multiplies like F.linear, and a packed model decodes
like the unpacked one. The fast precision's integer runtime is tested in test_runtime.py."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_model
from dspark.batch import FlatBatch
from dspark.models import packed
from dspark.models.loader import pack_model
from dspark.models.packed import pack_weight
from dspark.models.runtime import exact_product, packed_linear



def test_kernel_builds_here():
    # The CI machines have a C compiler and AVX2: the kernel must be in use there, not skipped.
    assert packed.available()


def gguf_like(n: int, k: int, kind: str, seed: int = 0) -> torch.Tensor:
    """An fp32 matrix dequantized the way GGUF stores it: fp16 scales (and mins), 32-wide blocks."""
    g = torch.Generator().manual_seed(seed)
    nb = k // 32
    d = (torch.rand(n, nb, 1, generator=g) * 0.02 + 1e-3).half().float()
    if kind == "q4_1":      # w = d * q + m, q in 0..15, the block's min and max hit
        q = torch.randint(0, 16, (n, nb, 32), generator=g)
        q[..., 0], q[..., 1] = 0, 15
        m = (torch.randn(n, nb, 1, generator=g) * 0.05).half().float()
        return (d * q + m).reshape(n, k)
    if kind == "q8_0":      # w = d * q, q in -127..127, the largest magnitude at 127
        q = torch.randint(-127, 128, (n, nb, 32), generator=g)
        q[..., 0] = 127
        return (d * q).reshape(n, k)
    if kind == "q4_k":      # w = (d * sc) * q - dmin * m per 32-wide sub-block, 6-bit sc and m;
        # the quantizer's optimized range need not use both q = 0 and q = 15
        sc = torch.randint(1, 64, (n, nb, 1), generator=g).float()
        q = torch.randint(2, 14, (n, nb, 32), generator=g)
        m = (torch.rand(n, nb, 1, generator=g) * 0.002).half().float() * torch.randint(0, 64, (n, nb, 1), generator=g)
        return ((d * 0.05 * sc) * q - m).reshape(n, k)
    if kind == "q5_0":      # w = d * (q - 16), q in 0..31, the largest magnitude at -16
        q = torch.randint(0, 32, (n, nb, 32), generator=g)
        q[..., 0] = 0
        return (d * (q - 16)).reshape(n, k)
    if kind == "q4_0":      # w = d * (q - 8), the largest magnitude at -8
        q = torch.randint(0, 16, (n, nb, 32), generator=g)
        q[..., 0] = 0
        return (d * (q - 8)).reshape(n, k)
    raise ValueError(kind)


def unpack(p: packed.PackedWeight) -> torch.Tensor:
    """The fp32 weights a PackedWeight encodes, decoded in Python from the exact kernel's word layout."""
    fields = 32 // p.bits
    words = packed._words_layout(p.q, p.bits).view(torch.uint8).reshape(p.out_features, -1, 8, 32 // 8)
    if p.bits == 4:
        nib = torch.stack([words & 0xF, words >> 4], dim=-1).reshape(p.out_features, -1, 8, fields)
    else:
        nib = words
    q = nib.transpose(-1, -2).reshape(p.out_features, p.in_features).double()
    scale = p.scale.double().repeat_interleave(32, dim=1)
    low = p.low.double().repeat_interleave(32, dim=1)
    return (q * scale + low).float()


@pytest.mark.parametrize("kind,bits", [("q4_1", 4), ("q4_0", 4), ("q5_0", 8), ("q8_0", 8)])
def test_pack_weight_is_bit_identical(kind, bits):
    w = gguf_like(48, 192, kind)
    p = pack_weight(w)
    assert p is not None and p.bits == bits and p.exact
    assert torch.equal(unpack(p), w)


def test_k_quant_sub_blocks_pack_to_fp32_rounding():
    w = gguf_like(40, 256, "q4_k")
    p = pack_weight(w)
    assert p is not None and p.bits == 4
    assert (unpack(p) - w).abs().max() <= 8 * torch.finfo(torch.float32).eps * w.abs().max()


@pytest.mark.parametrize("kind,form", [("q4_1", packed.SCALES_F16), ("q8_0", packed.SCALES_F16_K8),
                                       ("q4_k", packed.SCALES_F32)])
def test_compact_scales_hold_the_fp32_values(kind, form):
    p = pack_weight(gguf_like(48, 256, kind, seed=5)).lay_out("fast")
    _, scale, low = packed._tile_layout(pack_weight(gguf_like(48, 256, kind, seed=5)).q, p.scale, p.low, p.bits)
    assert p.scale_form == form
    full = packed.full_scales(p)
    assert torch.equal(full[0], scale) and torch.equal(full[1], low)
    bytes_per_block = {packed.SCALES_F16: 4, packed.SCALES_F16_K8: 3, packed.SCALES_F32: 8}[form]
    assert p.tile_scale.nbytes + p.tile_low.nbytes == bytes_per_block * scale.numel()
    # a low that is neither fp16 nor the scale times an int8 keeps both in fp32, bit for bit
    odd = low.clone()
    odd[0, 0, 0] = torch.nextafter(odd[0, 0, 0], torch.tensor(1.0))
    s, l, f = packed.compact_scales(scale, odd)
    assert f == packed.SCALES_F32 and torch.equal(l, odd)
    # -0.0 is not +0.0: a form keeps its sign bit or is not chosen
    zero = torch.zeros(2, 3, 16)
    zero[0, 0, 0] = -0.0
    s, l, f = packed.compact_scales(torch.full((2, 3, 16), 0.5), zero)
    assert f == packed.SCALES_F16 and torch.equal(l.float().view(torch.int32), zero.view(torch.int32))


def test_unquantized_weights_are_not_packed():
    assert pack_weight(torch.randn(64, 128)) is None
    assert pack_weight(gguf_like(8, 96, "q4_1")) is None          # K not a multiple of 64
    assert pack_weight(gguf_like(8, 128, "q4_1").double()) is None


@pytest.mark.parametrize("kind", ["q4_1", "q8_0"])
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 8, 11, 16])
def test_kernel_matches_linear(kind, rows):
    torch.manual_seed(rows)
    w = gguf_like(200, 320, kind, seed=rows)
    bias = torch.randn(200)
    x = torch.randn(rows, 320)
    ref = F.linear(x.double(), w.double(), bias.double())
    got = exact_product(x, pack_weight(w).lay_out("exact"), bias)
    assert got.shape == (rows, 200) and got.dtype == torch.float32
    assert (got.double() - ref).abs().max() <= 1e-5 * ref.abs().max()
    # The BLAS product on the same fp32 inputs differs from the exact one by the same order.
    assert (got - F.linear(x, w, bias)).abs().max() <= 1e-5 * ref.abs().max()


def test_packed_linear_falls_back():
    w = gguf_like(64, 128, "q4_1")
    p = pack_weight(w).lay_out("exact")
    x = torch.randn(3, 128)
    with torch.no_grad():
        assert torch.equal(packed_linear(x, w, None, p), exact_product(x, p))
        many = torch.randn(packed.KERNEL_MAX_ROWS + 1, 128)
        assert torch.equal(packed_linear(many, w, None, p), F.linear(many, w))
        w.mul_(2)                     # the weight changed since it was packed: the copy is stale
        assert torch.equal(packed_linear(x, w, None, p), F.linear(x, w))
    w2 = w.clone().requires_grad_()
    y = packed_linear(x, w2, None, pack_weight(w2.detach()).lay_out("exact"))
    assert y.requires_grad                        # autograd goes through F.linear


def test_packed_cache_round_trip(tmp_path, caplog):
    model = tiny_model(vocab=128, dtype=torch.float32, hidden_size=64, intermediate_size=128,
                       num_heads=4, num_kv_heads=2, head_dim=16)
    with torch.no_grad():
        model.lm_head.weight.copy_(gguf_like(128, 64, "q8_0"))
    cache = tmp_path / "packed.safetensors"
    first = pack_model(model, cache=cache, precision="exact")
    assert cache.exists() and "1/" in first            # only the LM head is quantized
    before = model.lm_head.packed
    model.lm_head.packed = None
    assert pack_model(model, cache=cache, precision="exact") == first     # read back, not recomputed
    after = model.lm_head.packed
    assert torch.equal(after.words, before.words) and torch.equal(after.scale, before.scale)
    x = torch.randn(2, 64)
    with torch.no_grad():
        assert torch.equal(model.lm_head(x), exact_product(x, before))
    cache.write_bytes(b"garbage")                      # a corrupt cache is rebuilt, with a warning
    assert pack_model(model, cache=cache, precision="exact") == first
    assert "unreadable packed-weight cache" in caplog.text


def test_packed_model_decodes_like_unpacked():
    """A tiny fp32 target with GGUF-like weights: packed and unpacked forwards agree to fp32 rounding
    on prefill, decode and verification rows, and every linear was packed."""
    model = tiny_model(vocab=128, dtype=torch.float32, hidden_size=64, intermediate_size=128,
                       num_heads=4, num_kv_heads=2, head_dim=16)
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if prm.dim() == 2 and "embed" not in name:
                prm.copy_(gguf_like(*prm.shape, "q4_1", seed=len(name)))
    reference = {n: p.clone() for n, p in model.state_dict().items()}
    report = pack_model(model, precision="exact")
    assert "products" in report and packed.is_packed(model)
    assert all(torch.equal(p, reference[n]) for n, p in model.state_dict().items())
    unpacked = tiny_model(vocab=128, dtype=torch.float32, hidden_size=64, intermediate_size=128,
                          num_heads=4, num_kv_heads=2, head_dim=16)
    unpacked.load_state_dict(reference)
    caches = [m.new_cache(1, 64) for m in (model, unpacked)]
    prompt = list(range(3, 23))
    steps = [(0, prompt), (20, [7]), (21, [9, 4, 2, 8])]
    for start, toks in steps:
        outs = [m(FlatBatch.build([(0, start, toks)], "cpu"), c).logits for m, c in zip((model, unpacked), caches)]
        assert (outs[0] - outs[1]).abs().max() <= 1e-4 * outs[1].abs().max()
