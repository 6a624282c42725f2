"""The fast precision's integer CPU runtime (models/qkernels.c, models/runtime.py).

Every instruction-set path this machine can run is tested (the narrower ones forced): the integer
product against a float64 evaluation of its defining formula and bit-equal to the portable path,
attention against torch's, and batch invariance, exact: a row's result does not depend on the other
rows of the call, so a packed model's logits are bit-equal in a decode step, in a verification and
in a prefill. Losslessness of speculative decoding on the fast runtime is tested at the end."""
from __future__ import annotations

import contextlib
import copy
import itertools
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_model
from dspark.batch import FlatBatch
from dspark.drafters.checkpoint import run_on_fast_runtime
from dspark.models.kv_cache import KVCache
from dspark.models import packed, runtime
from dspark.models.loader import pack_model
from dspark.models.packed import pack_weight
from dspark.sampling import SamplingParams
from lossless import greedy_reference, run_engine
from test_packed import gguf_like


def test_runtime_builds_here():
    # CI machines have a C compiler: the integer runtime must be in use there, not skipped.
    assert packed.available("fast")
    assert runtime.lib().best >= runtime.PATHS["avx2"]     # both machine kinds have AVX2 + FMA


PATHS_HERE = [name for name, code in runtime.PATHS.items() if code in runtime.lib().supported]


def test_paths_follow_the_cpu_flags():
    """Each path is offered where the CPU has its instructions, whatever the wider ones: AMD's Zen 4
    has AVX-512 VNNI but not AVX-VNNI, and forcing the latter there died of an illegal instruction.
    (The flags as Linux lists them: CI runs on Linux.)"""
    flags = set(next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split(":", 1)[1].split())
    avx2 = {"avx2", "fma", "f16c"} <= flags
    expect = {"generic": True, "avx2": avx2, "avxvnni": avx2 and "avx_vnni" in flags,
              "avx512vnni": avx2 and {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"} <= flags}
    rt = runtime.lib()
    assert {name: runtime.PATHS[name] in rt.supported for name in runtime.PATHS} == expect
    assert rt.best == max(rt.supported)
    for name, ok in expect.items():
        if not ok:
            with pytest.raises(ValueError, match="lacks"):
                rt.force(name)


@contextlib.contextmanager
def kernel_path(name: str):
    rt = runtime.lib()
    saved = rt.path
    rt.force(name)
    try:
        yield
    finally:
        rt.path = saved


def reference(x: torch.Tensor, p: packed.PackedWeight, q: torch.Tensor) -> torch.Tensor:
    """The defining formula in float64: 8-bit activations per 32-block (dx, qx), integer sums."""
    # quantized as the C code does, in fp32: id = 127 / amax, q = round-half-even(x * id)
    xb = x.float().reshape(x.shape[0], -1, 32)
    amax = xb.abs().amax(-1, keepdim=True)
    inv = torch.where(amax > 0, 127 / amax, torch.zeros_like(amax))
    qx = torch.round(xb * inv).clamp(-127, 127).double()
    dx = (amax / 127).double()
    qw = q.double().reshape(q.shape[0], -1, 32)                                # [N, B, 32]
    isum = torch.einsum("mbt,nbt->mnb", qx, qw)
    sx = qx.sum(-1)                                                            # [M, B]
    t = isum * p.scale.double()[None] + p.low.double()[None] * sx[:, None, :]
    return (dx.squeeze(-1)[:, None, :] * t).sum(-1)


def with_fp32_scales(p: packed.PackedWeight) -> packed.PackedWeight:
    """A copy of a fast layout whose scales and lows are stored as fp32, whatever form p has."""
    wide = copy.copy(p)
    wide.tile_scale, wide.tile_low = packed.full_scales(p)
    wide.scale_form = packed.SCALES_F32
    return wide.bind("fast")


# How each GGUF form's scales and lows are stored (packed.compact_scales)
SCALE_FORMS = {"q4_1": packed.SCALES_F16, "q4_0": packed.SCALES_F16, "q5_0": packed.SCALES_F16,
               "q8_0": packed.SCALES_F16_K8, "q4_k": packed.SCALES_F32}


@pytest.mark.parametrize("kind", ["q4_1", "q4_0", "q5_0", "q8_0", "q4_k"])
def test_qmatmul_every_path_and_row_count(kind):
    w = gguf_like(48, 256, kind, seed=3)
    plain = pack_weight(w)
    q = plain.q.clone()
    p = pack_weight(w).lay_out("fast")
    assert p.scale_form == SCALE_FORMS[kind]
    wide = with_fp32_scales(p)
    torch.manual_seed(0)
    bias, res = torch.randn(48), torch.randn(17, 48)
    x = torch.randn(17, 256) * torch.linspace(0.1, 3, 256)
    x[3, :32] = 0                                    # an all-zero block quantizes to zeros
    ref = reference(x, plain, q)
    results, normed = {}, {}
    nw = torch.rand(256) + 0.5
    for name in PATHS_HERE:
        with kernel_path(name):
            full = runtime.qmatmul(x, p)
            results[name] = full
            # the fused RMSNorm too: the same bits on every path and for any number of rows
            normed[name] = runtime.qmatmul(x, p, norm=nw, eps=1e-5)
            assert torch.equal(runtime.qmatmul(x[2:5], p, norm=nw, eps=1e-5), normed[name][2:5]), name
            # any number of rows gives each row the same bits (batch invariance): every size of the
            # last register tile (1-8 rows on AVX-512, 1-4 on the 256-bit paths) and whole ones
            for rows in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16):
                assert torch.equal(runtime.qmatmul(x[:rows], p), full[:rows]), (name, rows)
            assert torch.equal(runtime.qmatmul(x[5:6], p), full[5:6])
            fused = runtime.qmatmul(x, p, bias=bias, residual=res)
            assert torch.equal(fused, (full + bias) + res)
            # compact scales are read as the fp32 ones: the same bits
            assert torch.equal(runtime.qmatmul(x, wide), full), name
            assert torch.equal(runtime.qmatmul(x[:1], wide), full[:1]), name
    assert (results["generic"].double() - ref).abs().max() <= 1e-5 * ref.abs().max()
    for name, got in results.items():
        assert torch.equal(got, results["generic"]), name      # every path: the same bits
        assert torch.equal(normed[name], normed["generic"]), name
    # and the quantized product is close to the fp32 one (8-bit activations, ~0.5 % per block)
    exact = F.linear(x, w)
    assert (results["generic"] - exact).abs().max() <= 0.02 * exact.abs().max()


def test_qmatmul_fuses_rmsnorm():
    w = gguf_like(32, 128, "q4_1", seed=1)
    p = pack_weight(w).lay_out("fast")
    x, nw = torch.randn(4, 128), torch.rand(128) + 0.5
    fused = runtime.qmatmul(x, p, norm=nw, eps=1e-5)
    separate = runtime.qmatmul(F.rms_norm(x, (128,), nw, 1e-5), p)
    assert (fused - separate).abs().max() <= 0.02 * separate.abs().max()


def head_major(t: torch.Tensor) -> torch.Tensor:
    """A copy of a [slots, max_len, kv_heads, D] cache laid out in memory as KVCache's values,
    head-major (what the C attention reads through its address); indexed as before."""
    return t.transpose(1, 2).contiguous().transpose(1, 2)


def blocked(keys: torch.Tensor) -> torch.Tensor:
    """A copy of [slots, max_len, kv_heads, D] keys in the C attention's layout (KVCache's blocked
    keys); `unblocked` reads them back position-major."""
    return KVCache.block_keys(keys)


def unblocked(kc: torch.Tensor, max_len: int) -> torch.Tensor:
    return KVCache.unblock_keys(kc)[:, :max_len]


def attend_rows(rt, qkv, rows, slot, pos, kc, vc, hq, hk, window):
    """rt_attention over the rows `rows` of qkv (their slots and positions), no q/k norm, rotary
    off (it is tested end to end), scale 1 / sqrt(D): the rows' outputs [len(rows), hq * D]."""
    d = qkv.shape[1] // (hq + 2 * hk)
    out = torch.empty(len(rows), hq * d)
    r = torch.tensor(rows)
    x, s, p = qkv[r].contiguous(), slot[r].contiguous(), pos[r].contiguous()      # kept alive over the call
    cos, sin = torch.ones(len(rows), d), torch.zeros(len(rows), d)
    rt.attention(x.data_ptr(), len(rows), hq, hk, d, None, None, 1e-6, cos.data_ptr(), sin.data_ptr(),
                 kc.data_ptr(), vc.data_ptr(), vc.shape[1], s.data_ptr(), p.data_ptr(), None, window, d ** -0.5,
                 0.0, out.data_ptr(), rt.path)
    return out


def attend_in_groups(rt, qkv, slot, pos, kc, vc, hq, hk, window, groups, name):
    """Every row's output with all rows in one call; each row alone and each group of rows (any
    order) must give the same bits."""
    full = attend_rows(rt, qkv, list(range(len(pos))), slot, pos, kc, vc, hq, hk, window)
    for i in range(len(pos)):
        assert torch.equal(attend_rows(rt, qkv, [i], slot, pos, kc, vc, hq, hk, window), full[i:i + 1]), (name, i)
    for g in groups:
        assert torch.equal(attend_rows(rt, qkv, g, slot, pos, kc, vc, hq, hk, window), full[g]), (name, g)
    return full


def attention_reference(q, k, v, qpos, window, scale):
    """Causal (optionally sliding) attention of each query row against keys 0..qpos, float64."""
    out = []
    rep = q.shape[1] // k.shape[1]
    kk, vv = k.double().repeat_interleave(rep, 1), v.double().repeat_interleave(rep, 1)
    for i, p in enumerate(qpos):
        lo = max(0, p - window + 1) if window else 0
        s = torch.einsum("hd,jhd->hj", q[i].double(), kk[lo:p + 1]) * scale
        out.append(torch.einsum("hj,jhd->hd", s.softmax(-1), vv[lo:p + 1]))
    return torch.stack(out)


# The kernel takes a kv head's query heads 1-3 at a time: 3, 4 (3 + 1), 5 (3 + 2) and 1 per kv head.
# 21 rows of one sequence: each row alone, any part of the run and a reordered batch give the same
# bits. With a window of 50, rows at positions 37..49 still see key 0; 50..57 do not.
@pytest.mark.parametrize("head_dim,window,hq,hk", [(64, 0, 6, 2), (16, 0, 8, 2), (256, 5, 4, 1), (24, 0, 10, 2),
                                                   (64, 3, 2, 2), (32, 50, 4, 2)])
def test_attention_every_path(head_dim, window, hq, hk):
    torch.manual_seed(head_dim)
    ctx, n = 37, 21
    rt = runtime.lib()
    qkv = torch.randn(n, (hq + 2 * hk) * head_dim)
    slot = torch.ones(n, dtype=torch.long)
    pos = torch.arange(ctx, ctx + n)
    base_k, base_v = torch.randn(2, 64, hk, head_dim).half(), torch.randn(2, 64, hk, head_dim).half()
    results = {}
    for name in PATHS_HERE:
        with kernel_path(name):
            kc, vc = blocked(base_k), head_major(base_v)
            full = attend_in_groups(rt, qkv, slot, pos, kc, vc, hq, hk, window,
                                    [[2, 3], list(range(3, 12)), [20, 4, 5, 6]], name)
            results[name] = full
    q = qkv[:, :hq * head_dim].reshape(n, hq, head_dim)
    k_new = qkv[:, hq * head_dim:(hq + hk) * head_dim].reshape(n, hk, head_dim)
    v_new = qkv[:, (hq + hk) * head_dim:].reshape(n, hk, head_dim)
    # the cache holds fp16: the new keys and values are rounded (to nearest even) on the way in
    k_all = torch.cat([base_k[1, :ctx].float(), k_new.half().float()])
    v_all = torch.cat([base_v[1, :ctx].float(), v_new.half().float()])
    assert torch.equal(unblocked(kc, 64)[1, ctx:ctx + n], k_new.half()) and torch.equal(vc[1, ctx:ctx + n], v_new.half())
    assert torch.equal(unblocked(kc, 64)[:, :ctx], base_k[:, :ctx]) and torch.equal(unblocked(kc, 64)[0], base_k[0])
    ref = attention_reference(q, k_all, v_all, pos.tolist(), window, head_dim ** -0.5)
    for name, got in results.items():
        assert (got.double().reshape(n, hq, head_dim) - ref).abs().max() <= 1e-5, name


@pytest.mark.parametrize("window", [0, 700, 300, 100])
def test_attention_at_long_contexts(window):
    """Rows that see 380-1100 keys of a head-major cache (a head's keys one after another, kv heads
    apart by max_len entries), with and without a sliding window, next to a short row of another
    slot: the same bits alone and in any group, on every path, and float64 attention's values."""
    torch.manual_seed(7 + window)
    hq, hk, d, ctx, max_len = 6, 2, 64, 380, 1200
    rt = runtime.lib()
    pos = torch.tensor([ctx, ctx + 1, ctx + 2, 700, 1099, 3])
    slot = torch.tensor([1, 1, 1, 1, 1, 0])
    qkv = torch.randn(len(pos), (hq + 2 * hk) * d)
    base_k, base_v = torch.randn(2, 2, max_len, hk, d).half()
    results = {}
    for name in PATHS_HERE:
        with kernel_path(name):
            kc, vc = blocked(base_k), head_major(base_v)
            full = attend_in_groups(rt, qkv, slot, pos, kc, vc, hq, hk, window, [[5, 4, 0]], name)
            results[name] = full
    # every row's own key and value went into the cache (rounded to fp16): the reference reads them there
    k_all, v_all = unblocked(kc, max_len).float(), vc.float()
    q = qkv[:, :hq * d].reshape(len(pos), hq, d)
    for i, (p, sl) in enumerate(zip(pos.tolist(), slot.tolist())):
        ref = attention_reference(q[i:i + 1], k_all[sl], v_all[sl], [p], window, d ** -0.5)
        for name, got in results.items():
            assert (got[i].double().reshape(1, hq, d) - ref).abs().max() <= 1e-5, (name, i)
    assert not torch.equal(results[PATHS_HERE[0]][4], torch.zeros(hq * d))


def test_attention_of_a_drafter_block_sees_the_whole_block():
    """A drafter's block (runtime.DraftForward): every row sees the keys up to the block's last
    position, so the block's rows see each other; and with no output buffer only the cache is written
    (a drafter's context rows)."""
    torch.manual_seed(1)
    hq, hk, d, ctx, g = 4, 2, 32, 23, 7
    rt = runtime.lib()
    qkv = torch.randn(g, (hq + 2 * hk) * d)
    cos, sin = torch.ones(g, d), torch.zeros(g, d)
    slot, pos = torch.zeros(g, dtype=torch.long), torch.arange(ctx, ctx + g)
    last = torch.full((g,), ctx + g - 1)
    base_k, base_v = torch.randn(2, 1, 40, hk, d).half()
    q = qkv[:, :hq * d].reshape(g, hq, d)
    k_new = qkv[:, hq * d:(hq + hk) * d].reshape(g, hk, d)
    v_new = qkv[:, (hq + hk) * d:].reshape(g, hk, d)
    k_all = torch.cat([base_k[0, :ctx].float(), k_new.half().float()])
    v_all = torch.cat([base_v[0, :ctx].float(), v_new.half().float()])
    ref = attention_reference(q, k_all, v_all, [ctx + g - 1] * g, 0, d ** -0.5)
    for name in PATHS_HERE:
        with kernel_path(name):
            kc, vc, out = blocked(base_k), head_major(base_v), torch.empty(g, hq * d)
            rt.attention(qkv.data_ptr(), g, hq, hk, d, None, None, 1e-6, cos.data_ptr(), sin.data_ptr(),
                         kc.data_ptr(), vc.data_ptr(), 40, slot.data_ptr(), pos.data_ptr(), last.data_ptr(), 0,
                         d ** -0.5, 0.0, out.data_ptr(), rt.path)
            assert (out.double().reshape(g, hq, d) - ref).abs().max() <= 1e-5, name
            written = blocked(base_k), head_major(base_v)
            rt.attention(qkv.data_ptr(), g, hq, hk, d, None, None, 1e-6, cos.data_ptr(), sin.data_ptr(),
                         written[0].data_ptr(), written[1].data_ptr(), 40, slot.data_ptr(), pos.data_ptr(), None, 0,
                         d ** -0.5, 0.0, None, rt.path)
            assert torch.equal(written[0], kc) and torch.equal(written[1], vc), name
            keys = unblocked(kc, 40)
            assert torch.equal(keys[0, ctx:ctx + g], k_new.half()) and torch.equal(keys[0, :ctx], base_k[0, :ctx])


def test_kv_cache_rounding_is_torchs_fp16():
    """The C runtime's fp16 cache writes round like torch's .half() (nearest even), at every edge:
    ties, subnormals, underflow to zero, overflow to infinity, signed zero."""
    d, hq, hk = 256, 1, 1
    rt = runtime.lib()
    g = torch.Generator().manual_seed(0)
    k = torch.cat([
        torch.randn(64, generator=g) * torch.logspace(-9, 4, 64),          # 1e-9 .. 1e4: subnormals to large
        torch.tensor([1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 65504.0, 65519.0,
                      65520.0, 1e6, -0.0, 2 ** -14, 2 ** -14 - 2 ** -25]),
        torch.randn(d - 76, generator=g)])
    # values are stored as given (keys pass rotary first, which may flip the sign of a zero)
    qkv = torch.cat([torch.zeros(hq * d), k.flip(0), k])[None].contiguous()
    kc, vc = blocked(torch.zeros(1, 4, hk, d, dtype=torch.float16)), torch.zeros(1, 4, hk, d, dtype=torch.float16)
    cos, sin = torch.ones(1, d), torch.zeros(1, d)
    slot, pos, out = torch.zeros(1, dtype=torch.long), torch.tensor([2]), torch.empty(1, hq * d)
    for name in PATHS_HERE:
        with kernel_path(name):
            rt.attention(qkv.data_ptr(), 1, hq, hk, d, None, None, 1e-6, cos.data_ptr(), sin.data_ptr(),
                         kc.data_ptr(), vc.data_ptr(), 4, slot.data_ptr(), pos.data_ptr(), None, 0, 1.0, 0.0,
                         out.data_ptr(), rt.path)
            assert torch.equal(vc[0, 2, 0].view(torch.int16), k.half().view(torch.int16)), name
            assert torch.equal(unblocked(kc, 4)[0, 2, 0], k.flip(0).half()), name


def packed_tiny(arch: str = "llama", seed: int = 0, vocab: int = 128, unpacked: str | None = None):
    """A tiny fp32 target whose every product holds GGUF-like Q4_1 / Q8_0 blocks, on the fast
    runtime; `unpacked` names products (e.g. "down_proj") left with plain fp32 weights, which do
    not pack (as Gemma 3 270M's Q6_K down-projections)."""
    model = tiny_model(arch, vocab=vocab, seed=seed, dtype=torch.float32, hidden_size=64,
                       intermediate_size=128, num_heads=4, num_kv_heads=2, head_dim=16)
    with torch.no_grad():
        for i, (name, prm) in enumerate(model.named_parameters()):
            if prm.dim() == 2 and not (unpacked and unpacked in name):
                prm.copy_(gguf_like(*prm.shape, "q8_0" if "embed" in name else "q4_1", seed=seed + i) * 8)
    report = pack_model(model, precision="fast")
    assert model.runtime is not None and report.startswith("packed weights (fast)")
    return model


def test_online_features_on_the_fast_runtime():
    """Training's online features run the packed target with the cache it expects: the taps of one
    sample equal those of the model's own forward, alone or in a group of samples; a cache of the
    wrong dtype is refused, not misread."""
    from deepspec.data.features import OnlineFeatures
    from deepspec.data.tokenize import TokenizedSample
    model = packed_tiny("llama")
    a, b = list(range(3, 40)), list(range(50, 70))
    cache = model.new_cache(1, 64)
    want = model(FlatBatch.build([(0, 0, a)], "cpu"), cache, taps=(0, 1)).taps
    got = OnlineFeatures(model, (0, 1))([TokenizedSample("a", a, [1] * len(a)), TokenizedSample("b", b, [1] * len(b))])
    assert torch.equal(got[0].taps, torch.cat(want, -1))
    wrong = KVCache.for_model(model.cfg, 1, 64, torch.float32, "cpu")
    with pytest.raises(TypeError, match="fp16"):
        model(FlatBatch.build([(0, 0, a)], "cpu"), wrong)
    unblocked_keys = KVCache.for_model(model.cfg, 1, 64, torch.float16, "cpu")   # fp16, keys not in blocks
    with pytest.raises(TypeError, match="blocked keys"):
        model(FlatBatch.build([(0, 0, a)], "cpu"), unblocked_keys)
    position_major = model.new_cache(1, 64)          # values with each position's heads side by side
    assert KVCache.head_major(position_major.v[0])
    position_major.v = [v.contiguous() for v in position_major.v]
    assert not KVCache.head_major(position_major.v[0])
    with pytest.raises(TypeError, match="head-major"):
        model(FlatBatch.build([(0, 0, a)], "cpu"), position_major)


FORWARD_FORMS = ("stack", "one call", "steps")


@contextlib.contextmanager
def forward_form(model, form: str):
    """Run the packed target's layers as one rt_forward call ("stack", what runs), one rt_layer call
    per layer ("one call"), or product by product from Python ("steps")."""
    rtm = model.runtime
    args, ptrs = rtm.args, [L.args_ptr for L in rtm.layers]
    rtm.args = args if form == "stack" else None
    for L, p in zip(rtm.layers, ptrs):
        L.args_ptr = None if form == "steps" else p
    try:
        yield
    finally:
        rtm.args = args
        for L, p in zip(rtm.layers, ptrs):
            L.args_ptr = p


@pytest.mark.parametrize("unpacked", [None, "down_proj"])
@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_the_layer_stack_in_one_call_is_the_layers_one_by_one(arch, unpacked, monkeypatch):
    """rt_forward (the whole stack in one C call, what a forward runs) against one rt_layer call per
    layer from Python, every path, bit for bit: logits, the tapped layers' outputs (a tap listed
    twice, out of order), the final hidden states and both sequences' cache entries, for a prefill
    and then a step that batches a second sequence's prefill with a 4-row verification. Gemma 3's
    sliding layers read their own rotary tables, so a mix-up of the two would show."""
    model = packed_tiny(arch, seed=5, unpacked=unpacked)
    n = len(model.runtime.layers)
    assert model.runtime.args is not None and model.runtime.local.tolist() == [
        int(L.sliding and model.model.rotary_local is not None) for L in model.runtime.layers]
    rt = runtime.lib()
    real, calls = rt.forward, []
    monkeypatch.setattr(rt, "forward", lambda *a: calls.append(1) or real(*a))
    taps = (n - 1, 0, n - 1)
    for name in PATHS_HERE:
        with kernel_path(name):
            got = {}
            for form in ("stack", "one call"):
                with forward_form(model, form):
                    cache, calls[:] = model.new_cache(2, 64), []
                    a = model(FlatBatch.build([(0, 0, list(range(3, 40)))], "cpu"), cache, taps=taps)
                    b = model(FlatBatch.build([(1, 0, [5, 6, 7]), (0, 37, [9, 8, 7, 6])], "cpu"), cache, taps=taps)
                    assert len(calls) == (2 if form == "stack" else 0), (name, form)
                    got[form] = [a.logits, a.hidden, b.logits, b.hidden, *a.taps, *b.taps,
                                 *(cache.keys(i)[:, :41].clone() for i in range(n)),
                                 *(t[:, :41].clone() for t in cache.v)]
            assert all(torch.equal(x, y) for x, y in zip(got["stack"], got["one call"], strict=True)), name
    with pytest.raises(IndexError, match="tap layers"):
        model(FlatBatch.build([(0, 0, [3, 4])], "cpu"), model.new_cache(1, 8), taps=(n,))


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_the_forward_in_one_call_embeds_rotates_and_picks_logit_rows(arch):
    """rt_forward starts from token ids (Gemma 3: times its embedding scale) and reads each row's
    rotary values from tables by position, grown past their first 512 positions, and ends with the
    head over the chosen rows: the same bits as the layers run from Python on torch's embedding and
    rotary, for a prefill whose logits are wanted at two rows only, then steps past position 512.
    The taps come side by side (tap_rows) and as a list of views of them. A token id outside the
    vocabulary raises IndexError and leaves the cache as it was."""
    model = packed_tiny(arch, seed=7)
    prompt, steps = [3 + i % 101 for i in range(505)], [[9, 8, 7], [4], [50, 51, 52, 53]]
    for name in PATHS_HERE:
        with kernel_path(name):
            got = {}
            for form in ("stack", "one call"):
                with forward_form(model, form):
                    for table in (model.runtime.rotary, model.runtime.rotary_local):
                        table.cos = table.sin = None                        # built afresh by this form
                    cache, outs = model.new_cache(1, 530), []
                    first = FlatBatch.build([(0, 0, prompt)], "cpu", logit_rows=[7, 504])
                    outs.append(model(first, cache, taps=(1, 0)))
                    for toks in steps:
                        outs.append(model(FlatBatch.build([(0, cache.lengths[0], toks)], "cpu"), cache, taps=(1, 0)))
                    assert outs[0].logits.shape[0] == 2
                    got[form] = [t for o in outs for t in (o.logits, o.tap_rows, *o.taps)]
                    if form == "stack":
                        assert model.runtime.rotary_local.cos.shape[0] > 512    # the tables grew
            assert all(torch.equal(x, y) for x, y in zip(got["stack"], got["one call"], strict=True)), name
            assert torch.equal(got["stack"][1], torch.cat(got["stack"][2:4], -1))
    # a token id outside the vocabulary is refused before anything runs, as torch's embedding refuses it
    cache = model.new_cache(1, 16)
    model(FlatBatch.build([(0, 0, [5, 6])], "cpu"), cache)
    keys = cache.keys(0)[0, :4].clone()
    with pytest.raises(IndexError, match="outside the vocabulary"):
        model(FlatBatch.build([(0, 2, [7, model.cfg.vocab_size])], "cpu"), cache)
    assert cache.lengths[0] == 2 and torch.equal(cache.keys(0)[0, :4], keys)


@pytest.mark.parametrize("arch,ctx_len", [("llama", 27), ("qwen3", 27), ("gemma3", 27), ("llama", 300)])
def test_packed_model_is_batch_invariant(arch, ctx_len):
    """Logits of the same positions, bit for bit: prefill, one decode step at a time, one
    8-token verification, and that verification batched with another sequence; at a 27- and a
    300-token context."""
    model = packed_tiny(arch)
    ctx, new = [3 + i % 97 for i in range(ctx_len)], [7, 9, 4, 2, 8, 50, 61, 5]
    for name in PATHS_HERE:
        with kernel_path(name):
            cache = model.new_cache(2, ctx_len + 40)
            prefill = model(FlatBatch.build([(0, 0, ctx + new)], "cpu"), cache).logits[len(ctx):]
            cache.truncate(0, len(ctx))
            decode = torch.cat([model(FlatBatch.build([(0, len(ctx) + i, [t])], "cpu"), cache).logits
                                for i, t in enumerate(new)])
            cache.truncate(0, len(ctx))
            verify = model(FlatBatch.build([(0, len(ctx), new)], "cpu"), cache).logits
            cache.truncate(0, len(ctx))
            model(FlatBatch.build([(1, 0, ctx[:11])], "cpu"), cache)
            batched = model(FlatBatch.build([(1, 11, [5, 6, 7]), (0, len(ctx), new)], "cpu"), cache).logits[3:]
            assert torch.equal(decode, prefill) and torch.equal(verify, decode), name
            assert torch.equal(batched, decode), name


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_a_product_that_did_not_pack_keeps_batch_invariance(arch):
    """A product left in fp32 (it did not pack) runs through rt_f32matmul, one fixed sequence per
    output: decode steps and a verification give the same logits bits, on every path. With torch's
    F.linear in its place they differed (Gemma 3 270M's Q6_K down-projections, session 36)."""
    model = packed_tiny(arch, seed=4, unpacked="down_proj")
    assert all(L.down is None for L in model.runtime.layers)
    ctx, new = list(range(3, 30)), [7, 9, 4, 2, 8, 50, 61, 5]

    def decode_and_verify():
        cache = model.new_cache(1, 64)
        model(FlatBatch.build([(0, 0, ctx)], "cpu"), cache)
        decode = torch.cat([model(FlatBatch.build([(0, len(ctx) + i, [t])], "cpu"), cache).logits
                            for i, t in enumerate(new)])
        cache.truncate(0, len(ctx))
        return decode, model(FlatBatch.build([(0, len(ctx), new)], "cpu"), cache).logits

    for name in PATHS_HERE:
        with kernel_path(name):
            for form in FORWARD_FORMS:
                with forward_form(model, form):
                    decode, verify = decode_and_verify()
                assert torch.equal(decode, verify), (name, form)
    x, w = torch.randn(5, 70), torch.randn(33, 70)       # K not a multiple of 8: the tail too
    torch.testing.assert_close(runtime.f32matmul(x, w), x @ w.T, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(runtime.f32matmul(x, w, bias=w[:, 0], residual=x[:, :33]),
                               x[:, :33] + (x @ w.T + w[:, 0]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("unpacked", [None, "down_proj"])
@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_a_layer_in_one_call_is_the_layer_in_steps(arch, unpacked, monkeypatch):
    """rt_layer (one C call per layer) against the same layer called product by product from Python
    (run_layer without its kv arguments), every path: the same keys and values in the cache, bit for
    bit, and the same layer output up to the gated activation, which C computes and torch did (a
    last-bit difference there can move one 8-bit step of the down product's input). Also with the
    down-projections left in fp32 (they did not pack): the call runs them by rt_f32matmul."""
    model = packed_tiny(arch, seed=3, unpacked=unpacked)
    layers = model.runtime.layers
    assert all(L.args_ptr is not None for L in layers)             # every product packed or fp32: one call each
    toks = list(range(3, 40))
    rt = runtime.lib()
    real, calls = rt.layer, []
    monkeypatch.setattr(rt, "layer", lambda *a: calls.append(1) or real(*a))
    for name in PATHS_HERE:
        with kernel_path(name):
            got = {}
            for mode in ("one call", "steps"):
                with forward_form(model, mode):
                    cache = model.new_cache(1, 64)
                    calls.clear()
                    out = model(FlatBatch.build([(0, 0, toks)], "cpu"), cache, taps=(0,))
                assert len(calls) == (len(layers) if mode == "one call" else 0), (name, mode)
                got[mode] = (out.taps[0], cache.keys(0)[0, :len(toks)].clone(), cache.v[0][0, :len(toks)].clone())
            (x1, k1, v1), (x2, k2, v2) = got["one call"], got["steps"]
            assert torch.equal(k1, k2) and torch.equal(v1, v2), name
            assert (x1 - x2).abs().max() <= 0.02 * x2.abs().max(), name
            assert (x1 - x2).abs().mean() <= 1e-3 * x2.abs().mean(), name


def test_fast_runtime_follows_the_exact_forward():
    """The fast forward is the same model as TargetModel's torch forward up to 8-bit activations."""
    model = packed_tiny("gemma3", seed=2)
    exact = packed_tiny("gemma3", seed=2)
    exact.runtime = None                                   # the torch reference forward
    toks = list(range(3, 40))
    fast_logits = model(FlatBatch.build([(0, 0, toks)], "cpu"), model.new_cache(1, 64)).logits
    with packed.kernel_rows(0):
        ref = exact(FlatBatch.build([(0, 0, toks)], "cpu"), exact.new_cache(1, 64)).logits
    agree = (fast_logits.argmax(-1) == ref.argmax(-1)).float().mean()
    assert (fast_logits - ref).abs().max() <= 0.05 * ref.abs().max() and agree >= 0.9


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_bf16_products_run_many_rows_only(arch):
    """use_bf16_products (feature caching): forwards of at least min_rows rows multiply in bf16 and
    stay the same model (as close to the fp32 reference as 8-bit activations); smaller forwards keep
    the integer kernel's bits; it turns on where the CPU multiplies bf16 natively, and only there."""
    toks, ctx = list(range(3, 40)), list(range(3, 12))

    def logits(model, rows):
        cache = model.new_cache(1, 64)
        return model(FlatBatch.build([(0, 0, rows)], "cpu"), cache).logits

    fast, bulk, exact = (packed_tiny(arch, seed=2) for _ in range(3))
    exact.runtime = None
    with packed.kernel_rows(0):
        ref = logits(exact, toks)
    assert runtime.use_bf16_products(bulk, min_rows=16) == runtime.cpu_has_bf16()
    assert runtime.use_bf16_products(bulk, min_rows=16, native_only=False)
    assert runtime.use_bf16_products(exact, native_only=False) is False      # no fast runtime: unchanged
    assert torch.equal(logits(bulk, ctx), logits(fast, ctx)), "fewer rows than min_rows: integer kernel"
    got, int8 = logits(bulk, toks), logits(fast, toks)
    assert not torch.equal(got, int8), "a 37-row forward ran on bf16 products"
    err_bf16, err_int8 = (got - ref).abs().max(), (int8 - ref).abs().max()
    assert err_bf16 <= 0.02 * ref.abs().max() and err_bf16 <= 3 * err_int8, (err_bf16, err_int8)
    assert (got.argmax(-1) == ref.argmax(-1)).float().mean() >= 0.9


def test_thread_count_follows_torch():
    rt = runtime.lib()
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        rt.sync_threads()
        assert rt.threads == 2
        w = gguf_like(64, 128, "q4_1")
        p = pack_weight(w).lay_out("fast")
        x = torch.randn(5, 128)
        two = runtime.qmatmul(x, p)
        torch.set_num_threads(1)
        rt.sync_threads()
        assert torch.equal(runtime.qmatmul(x, p), two)       # threads never change the bits
    finally:
        torch.set_num_threads(saved)
        rt.sync_threads()


def test_engine_steps_lend_the_threads_to_the_kernels():
    """Inside an engine step on the fast runtime torch runs on one thread and the C kernels on all
    that are set (two pools spinning on the same cores slowed batch-1 decoding ~1.4x); after the
    step the setting is as it was. A target off the runtime keeps torch's threads."""
    from dspark.drafters.base import Drafter, Proposal
    seen = []

    class Spy(Drafter):
        gamma = 2

        def propose(self, seqs):
            seen.append((torch.get_num_threads(), runtime.kernel_threads(), runtime.lib().threads))
            return [Proposal([]) for _ in seqs]
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        run_engine(packed_tiny("llama", seed=4), Spy(), [[3, 4, 5]], [SamplingParams()], 4)
        assert seen and set(seen) == {(1, 2, 2)} and torch.get_num_threads() == 2
        seen.clear()
        run_engine(tiny_model("llama"), Spy(), [[3, 4, 5]], [SamplingParams()], 4)
        assert seen and {s[:2] for s in seen} == {(2, 2)}
    finally:
        torch.set_num_threads(saved)
        runtime.lib().sync_threads()


def test_forcing_an_unknown_path_is_an_error():
    with pytest.raises(ValueError, match="unknown kernel path"):
        runtime.lib().force("neon")


# --- losslessness on the fast runtime -------------------------------------------------------

def test_greedy_identity_on_the_fast_runtime():
    """Speculative greedy output equals plain greedy decoding token for token on a packed fp32
    target, with no near-tie allowance: every position's logits are the same bits either way."""
    from dspark.drafters.base import Drafter
    from dspark.drafters.ngram import NgramDrafter
    from test_lossless import OracleDrafter, prompts
    model = packed_tiny("llama", seed=4)
    ps = prompts(5)
    want = [greedy_reference(model, p, 16) for p in ps]
    for drafter in (Drafter(), NgramDrafter(gamma=4, max_ngram=3), OracleDrafter(model)):
        got, _ = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 16, max_batch=3, stagger=True)
        assert got == want, type(drafter).__name__


def test_the_final_norm_runs_for_a_drafter_that_reads_it_only(monkeypatch):
    """The fast forward's final normed state is computed when read: the engine reads it only for a
    drafter that sets reads_hidden, which gets the same values as the torch forward's."""
    from dspark.drafters.base import Drafter
    model = packed_tiny("llama", seed=4)
    norms = []
    real_norm = model.model.norm.forward
    monkeypatch.setattr(model.model.norm, "forward", lambda x: norms.append(x.shape[0]) or real_norm(x))

    class Reader(Drafter):
        reads_hidden = True
        seen: list = []

        def observe(self, seq, taps, hidden):
            self.seen.append(hidden)

    class Ignorer(Drafter):
        seen: list = []

        def observe(self, seq, taps, hidden):
            self.seen.append(hidden)

    prompt = [3, 7, 2, 9, 4]
    run_engine(model, Ignorer(), [prompt], [SamplingParams()], 6)
    assert norms == [] and len(Ignorer.seen) == 6 and all(h is None for h in Ignorer.seen)   # prefill + 5 rounds
    run_engine(model, Reader(), [prompt], [SamplingParams()], 6)
    assert norms == [5] + [1] * 5 and len(Reader.seen) == 6
    # a forward's hidden: computed once, on first read, the prefill's rows as the engine gave them
    norms.clear()
    out = model(FlatBatch.build([(0, 0, prompt)], model.device), model.new_cache(1, 32))
    assert norms == [] and callable(out._hidden)
    first = out.hidden
    assert out.hidden is first and norms == [5] and torch.equal(first, Reader.seen[0])


def test_sampled_distribution_on_the_fast_runtime():
    from lossless import TableDrafter, chi_square_pvalue, exact_joint, sample_continuations
    model = packed_tiny("llama", seed=5, vocab=16)
    params = SamplingParams(temperature=1.0, seed=11)
    prompt = [3, 7, 2]
    exact = exact_joint(model, prompt, params, 2)
    samples = sample_continuations(model, TableDrafter(16, gamma=3), prompt, params, 1500, 2)
    assert chi_square_pvalue(samples, exact) > 1e-3


def test_prefix_reuse_skips_the_held_prefix_and_changes_nothing():
    """A conversation's second turn starts with everything its first turn held: with prefix reuse
    the engine computes only the rest, and every output (greedy, sampled, n-gram drafted) is the
    same as without; a slot that holds nothing of a new prompt is not taken from a held one."""
    from dspark.drafters.ngram import NgramDrafter
    from dspark.engine import Engine, EngineConfig
    model = packed_tiny("llama", seed=6)
    rows = []
    hook = model.register_forward_pre_hook(lambda m, args: rows.append(args[0].tokens.numel()))
    turn1, other = list(range(3, 23)), [9, 8, 7, 6, 5, 4]
    try:
        results = {}
        for reuse in (False, True):
            engine = Engine(model, NgramDrafter(gamma=3), EngineConfig(max_batch=2, max_len=128, prefix_reuse=reuse),
                            eos_ids=set())
            rows.clear()
            outs = []
            for params in (SamplingParams(), SamplingParams(temperature=1.0, seed=3)):
                a = engine.add_request(turn1, params, 12)
                engine.run_until_done()
                b = engine.add_request(other, params, 5)           # joins first: must not take a's slot
                c = engine.add_request(turn1 + a.output_ids + [5, 6, 7], params, 12)
                engine.run_until_done()
                outs += [a.output_ids, b.output_ids, c.output_ids]
            results[reuse] = (outs, sum(rows))
    finally:
        hook.remove()
    assert results[True][0] == results[False][0]
    # Turn 2 skips turn 1's prompt and all but its last output token, for both parameter sets; in
    # the second round, turn 1 and the other prompt find themselves held (all but their last token).
    saved = 2 * (len(turn1) + 12 - 1) + (len(turn1) - 1) + (len(other) - 1)
    assert results[False][1] - results[True][1] == saved


def test_prefix_reuse_refuses_a_drafter_that_observes_positions():
    from dspark.drafters.base import Drafter
    from dspark.engine import Engine, EngineConfig
    from dspark.errors import DSparkError

    class Observing(Drafter):
        observes_positions = True
    with pytest.raises(DSparkError, match="prefix reuse"):
        Engine(packed_tiny("llama"), Observing(), EngineConfig(prefix_reuse=True))


def test_kv_cache_allocates_a_chosen_slot():
    cache = KVCache(1, 3, 8, 1, 4)
    a = cache.allocate(1, keep=5)
    assert a == 1 and cache.lengths[1] == 5 and 1 not in cache.free_slot_ids
    with pytest.raises(ValueError, match="not free"):
        cache.allocate(1)
    with pytest.raises(ValueError, match="cannot keep"):
        cache.allocate(0, keep=9)


def test_blocked_keys_read_and_write_as_position_major_ones():
    """The fast runtime's cache (keys in transposed blocks of KEY_BLOCK positions) through torch's
    write / read, keys() and copy_prefix: the same entries as the position-major cache, across
    block edges and slots; the blocks are [D, KEY_BLOCK] transposes of the keys they hold."""
    from dspark.models.kv_cache import KEY_BLOCK
    torch.manual_seed(0)
    plain, blocked_cache = (KVCache(2, 3, 40, 2, 8, blocked_keys=b) for b in (False, True))
    for cache in (plain, blocked_cache):
        for slot in (0, 2):
            cache.allocate(slot)
    k, v = torch.randn(2, 30, 2, 8), torch.randn(2, 30, 2, 8)
    batches = [FlatBatch.build([(0, 0, [1] * 13), (2, 0, [1] * 5)], "cpu"),
               FlatBatch.build([(0, 13, [1] * 17), (2, 5, [1] * 4)], "cpu")]
    for b in batches:
        rows = [(slot, pos) for slot, pos in zip(b.row_slot.tolist(), b.positions.tolist())]
        for cache in (plain, blocked_cache):
            cache.check_room(b)
            for layer in range(2):
                kk = torch.stack([k[layer, pos] * (slot + 1) for slot, pos in rows])
                vv = torch.stack([v[layer, pos] * (slot + 1) for slot, pos in rows])
                cache.write(layer, b, kk, vv)
            cache.commit(b)
        for layer in range(2):
            for x, y in zip(plain.read(layer, b), blocked_cache.read(layer, b), strict=True):
                assert torch.equal(x, y)
    for layer in range(2):
        assert torch.equal(blocked_cache.keys(layer), plain.keys(layer))
        assert torch.equal(blocked_cache.k[layer][0, 1, 1], plain.k[layer][0, KEY_BLOCK:2 * KEY_BLOCK, 1].T)
    bigger = KVCache(2, 3, 80, 2, 8, blocked_keys=True)
    bigger.copy_prefix(blocked_cache, 30)
    for layer in range(2):
        assert torch.equal(bigger.keys(layer)[:, :30], plain.keys(layer)[:, :30])
        assert torch.equal(bigger.v[layer][:, :30], plain.v[layer][:, :30])


def test_quantize_q8_is_within_half_a_step():
    w = torch.randn(48, 128) * torch.rand(48, 1) * 3
    w[0, :32] = 0.0                                        # an all-zero block stays zero
    pw = packed.quantize_q8(w)
    rebuilt = (pw.q.float().reshape(48, 4, 32) * pw.scale[..., None] + pw.low[..., None]).reshape(48, 128)
    step = pw.scale.repeat_interleave(32, dim=1)
    assert ((rebuilt - w).abs() <= step / 2 + 1e-6).all() and torch.equal(rebuilt[0, :32], w[0, :32])
    assert packed.quantize_q8(torch.randn(40, 128)) is None     # 40 outputs: not whole tiles of 16
    assert packed.quantize_q8(torch.randn(48, 96)) is None      # 96 inputs: not whole 64s


def test_a_drafter_next_to_a_fast_target_runs_on_8_bit_weights(tmp_path):
    """Loaded for a fast-precision target, a drafter's products and its draft head run on the
    integer runtime (8-bit weights): its logits stay close to the fp32 drafter's, and speculative
    greedy decoding with it stays token-identical to plain."""
    from pathlib import Path

    from dspark.drafters.checkpoint import load_drafter, save_drafter
    from dspark.drafters.dspark import DSparkConfig, DSparkDrafter
    from dspark.models.layers import Linear
    from dspark.models.loader import Target
    from test_lossless import prompts
    model = packed_tiny("llama", seed=8)
    d = DSparkDrafter.build(DSparkConfig(block_size=4, num_layers=1, tap_layers=[0, 1], draft_vocab_size=64,
                                         markov_rank=64), model)
    save_drafter(d, tmp_path / "ck", "tiny")
    e = load_drafter(tmp_path / "ck", Target(name="tiny", path=Path("."), model=model, tokenizer=None))
    # every product runs on 8-bit weights: its own copy, or (q, gate, up) the fused q/k/v or gate/up one
    attn, mlp = e.layers[0].self_attn, e.layers[0].mlp
    assert attn.packed_qkv.precision == "fast" and mlp.packed_gate_up.precision == "fast"
    fused_only = {id(attn.q_proj), id(mlp.gate_proj), id(mlp.up_proj)}
    linears = [m for m in e.modules() if isinstance(m, Linear)]
    assert linears and all((m.packed is None) == (id(m) in fused_only) for m in linears)
    assert all(m.packed.precision == "fast" for m in linears if m.packed is not None)
    assert e.draft_head.pack and not d.draft_head.pack
    with torch.no_grad():
        h = torch.randn(5, 64)
        ref, got = d.head_logits(h), e.head_logits(h)
        assert e.draft_head._packed is not None
        assert (got - ref).abs().max() <= 0.05 * ref.abs().max()
    ps = prompts(3)
    want = [greedy_reference(model, p, 12) for p in ps]
    got, _ = run_engine(model, e, ps, [SamplingParams()] * len(ps), 12, max_batch=2, stagger=True)
    assert got == want


@pytest.mark.parametrize("arch,layer_form", [("llama", "engine"), ("llama", "target"), ("gemma3", "engine"),
                                              ("gemma3", "target")])
@pytest.mark.parametrize("rounds_per_request", [1, 4])
def test_a_drafter_on_the_runtime_drafts_as_its_torch_form(arch, layer_form, rounds_per_request, monkeypatch):
    """attach_runtime moves a DFlash / DSpark round into C (runtime.DraftForward): fed the same taps,
    the drafter gives its torch form's draft logits up to 8-bit activations and the fp16 context
    cache, for sequences of different lengths at once (one C round each, or the batched step form:
    ROUNDS_PER_REQUEST), over rounds, past the context cache's first capacity, in both layer forms
    (Gemma's target form: sandwich and offset norms); greedy decoding with it stays token-identical
    to plain."""
    from dspark.drafters.dflash import DFlashDrafter
    from dspark.drafters.dspark import DSparkConfig, DSparkDrafter
    from dspark.sequence import Sequence
    from test_lossless import prompts
    monkeypatch.setattr(DFlashDrafter, "ROUNDS_PER_REQUEST", rounds_per_request)
    rounds_in_c = []
    real_round = runtime.DraftForward.round
    monkeypatch.setattr(runtime.DraftForward, "round", lambda self, *a: rounds_in_c.append(1) or real_round(self, *a))
    model = packed_tiny(arch, seed=9)
    cfg = DSparkConfig(block_size=4, num_layers=2, tap_layers=[0, 1], draft_vocab_size=64, markov_rank=64,
                       layer_form=layer_form)
    ref = DSparkDrafter.build(cfg, model).eval()
    with torch.no_grad():
        ref.markov_head.markov_w2.weight.normal_(0, 0.3)
    fast = DSparkDrafter.build(cfg, model).eval()
    fast.load_state_dict(ref.state_dict())
    run_on_fast_runtime(fast)      # what load_drafter does next to a fast target
    assert isinstance(fast.runtime, runtime.DraftForward) and ref.runtime is None
    lengths = [30, 270, 5]                       # 270: past a context cache's first 256 rows
    gen = torch.Generator().manual_seed(0)
    toks = [torch.randint(0, 128, (n + 12,), generator=gen).tolist() for n in lengths]
    taps = []
    for t in toks:
        cache = model.new_cache(1, len(t))
        out = model.forward(FlatBatch.build([(cache.allocate(), 0, t)], "cpu"), cache, taps=[0, 1], need_logits=False)
        taps.append(torch.cat(out.taps, -1))
    logits = {}
    for name, d in (("ref", ref), ("fast", fast)):
        seqs = [Sequence(j, t[:n + 1], n + 1, SamplingParams(), None, 16) for j, (t, n) in enumerate(zip(toks, lengths))]
        for s in seqs:
            d.start(s)
        rounds = []
        with torch.no_grad():
            for step in range(3):                # each round commits 4 more tokens
                for j, s in enumerate(seqs):
                    n = lengths[j] + 4 * step
                    s.tokens, s.num_processed = toks[j][:n + 1], n
                    d.observe(s, taps[j][0 if step == 0 else n - 4:n], None)
                rounds.append(d.propose_with_logits(seqs)[1])
        logits[name] = torch.stack(rounds)
    assert len(rounds_in_c) == (9 if rounds_per_request > 1 else 0)     # 3 rounds x 3 sequences
    err = (logits["fast"] - logits["ref"]).abs().max()
    assert 0 < err <= 0.05 * logits["ref"].abs().max(), err
    assert (logits["fast"].argmax(-1) == logits["ref"].argmax(-1)).float().mean() >= 0.9
    ps = prompts(3)
    want = [greedy_reference(model, p, 12) for p in ps]
    got, _ = run_engine(model, fast, ps, [SamplingParams()] * len(ps), 12, max_batch=2, stagger=True)
    assert got == want


@pytest.mark.parametrize("algorithm", ["dspark", "dflash"])
@pytest.mark.parametrize("arch,layer_form", [("llama", "engine"), ("gemma3", "target")])
def test_a_drafting_round_in_one_call_is_the_round_in_steps(arch, layer_form, algorithm, monkeypatch):
    """At batch 1 a DFlash / DSpark round on the runtime is one C call (rt_draft_round): the
    context's projection, the block, the head and, for a greedy DSpark request, the Markov loop and
    the confidence head. Against the same round in steps (runtime.context, runtime.block, the head,
    runtime.markov_greedy, the torch confidence head): the same cache entries bit for bit, the same
    drafts, logits and confidences up to the final norm's summation order, on every instruction-set
    path, and so at the narrower blocks a policy may ask for (Sequence.draft_width); greedy decoding
    with it stays token-identical to plain."""
    from dspark.sequence import Sequence
    from lossless import random_trained_drafter
    from test_lossless import prompts
    model = packed_tiny(arch, seed=11)
    extra = {"markov_rank": 64} if algorithm == "dspark" else {}
    drafter = random_trained_drafter(algorithm, model, gamma=4, tap_layers=[0, 1], draft_vocab_size=96,
                                     layer_form=layer_form, num_layers=2, **extra)
    run_on_fast_runtime(drafter)
    with torch.no_grad():                  # a greedy DSpark request's Markov loop runs inside the call
        assert bool(runtime.DraftForward.round_args(drafter.runtime, drafter).w1) == (algorithm == "dspark")
    calls = []
    rt = runtime.lib()
    real = rt.draft_round
    monkeypatch.setattr(rt, "draft_round", lambda *a: calls.append(1) or real(*a))
    toks = torch.randint(0, 128, (90,), generator=torch.Generator().manual_seed(2)).tolist()
    cache = model.new_cache(1, len(toks))
    out = model.forward(FlatBatch.build([(cache.allocate(), 0, toks)], "cpu"), cache, taps=[0, 1], need_logits=False)
    taps = torch.cat(out.taps, -1)

    def rounds(params, steps_form: bool, path: str):
        """Three rounds of one sequence: (logits, confidence logits, drafts) per round, and the
        drafter's context cache after them."""
        seq = Sequence(0, toks[:41], 40, params, params.generator("cpu"), 16)
        drafter.start(seq)
        got = []
        with torch.no_grad(), kernel_path(path), monkeypatch.context() as m:
            if steps_form:
                m.setattr(runtime.DraftForward, "round_args", lambda self, d: None)
            for step, width in enumerate((None, 2, 3)):   # 40 context rows, then 5 and 5 more (pending)
                n = 40 + 5 * step
                seq.tokens, seq.num_processed = toks[:n + 1], n
                drafter.observe(seq, taps[0 if step == 0 else n - 5:n], None)
                seq.draft_width = width
                props, logits = drafter.propose_with_logits([seq])
                assert logits.shape[1] == (width or drafter.gamma) >= len(props[0].tokens)
                got.append((logits, props[0].confidence_logits, props[0].tokens))
        st = seq.draft_state
        return got, [k[0, :st.projected].clone() for k in st.cache.k + st.cache.v]

    for params, name in itertools.product((SamplingParams(), SamplingParams(temperature=1.0, seed=3)), PATHS_HERE):
        calls.clear()
        want, want_cache = rounds(params, True, name)
        assert not calls
        got, got_cache = rounds(params, False, name)
        assert len(calls) == 3
        assert all(torch.equal(a, b) for a, b in zip(got_cache, want_cache)), name
        for (lg, cf, tk), (wl, wc, wt) in zip(got, want):
            assert (lg - wl).abs().max() <= 1e-4 * wl.abs().max(), name
            if params.greedy:
                assert tk == wt, name
            if cf is not None or wc is not None:
                assert (cf - wc).abs().max() <= 1e-4 * (1 + wc.abs().max()), name
    ps = prompts(3)
    want = [greedy_reference(model, p, 12) for p in ps]
    got_tokens, _ = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 12, max_batch=1)
    assert got_tokens == want


def test_the_build_with_timers_computes_the_same_and_splits_the_time(monkeypatch):
    """runtime.profiling_lib (qkernels.c built with RT_PROFILE, for benchmarks/step_profile.py)
    computes the same bits as the build that runs, and splits a forward's time into its parts:
    every part of the target's layers and its head, and no drafting part, within the forward's
    wall time; a drafting round's time goes to the round's parts alone, its layers not counted as
    the target's. The build that runs has no timers."""
    from dspark.sequence import Sequence
    from lossless import random_trained_drafter
    assert runtime.lib().profile() is None
    model = packed_tiny("llama", seed=7)
    drafter = random_trained_drafter("dspark", model, gamma=4, tap_layers=[0, 1], draft_vocab_size=96,
                                     markov_rank=64)
    run_on_fast_runtime(drafter)
    toks = torch.randint(0, 128, (60,), generator=torch.Generator().manual_seed(4)).tolist()

    def run():
        """(logits of a prefill and of a 4-row step, the step's wall time, the drafts of a round)"""
        cache = model.new_cache(1, 80)
        with torch.no_grad():
            first = model(FlatBatch.build([(cache.allocate(), 0, toks[:50])], "cpu"), cache, taps=[0, 1])
            runtime.lib().profile()                 # the prefill's parts: not the step's
            t0 = time.perf_counter()
            step = model(FlatBatch.build([(0, 50, toks[50:54])], "cpu"), cache)
            wall = time.perf_counter() - t0
            parts = runtime.lib().profile()
            seq = Sequence(0, toks[:51], 50, SamplingParams(), None, 16)
            seq.num_processed = 50
            drafter.start(seq)
            drafter.observe(seq, first.tap_rows, None)
            drafts = drafter.propose([seq])[0].tokens
        return [first.logits, step.logits], wall, parts, drafts

    want, _, none, want_drafts = run()
    assert none is None
    monkeypatch.setattr(runtime, "_LIB", None)     # the timed build, this test only
    rt = runtime.profiling_lib()
    assert runtime.lib() is rt
    got, wall, parts, drafts = run()
    assert all(torch.equal(a, b) for a, b in zip(got, want)) and drafts == want_drafts
    target = [p for p in runtime.PROFILE_PARTS if not p.startswith("draft")]
    assert all(parts[p] > 0 for p in target) and not any(parts[p] for p in runtime.PROFILE_PARTS if p not in target)
    assert sum(parts.values()) <= wall
    drafting = rt.profile()             # the round: its own parts only
    assert all(drafting[p] > 0 for p in runtime.PROFILE_PARTS if p not in target)
    assert not any(drafting[p] for p in target)


@pytest.mark.parametrize("batch", [1, 3])
def test_greedy_markov_loop_in_c_is_the_torch_loop(batch, monkeypatch):
    """A DSpark drafter on the runtime runs its greedy Markov loop in one C call
    (runtime.markov_greedy): the same drafts, logits, confidences and the same bits as the loop
    in torch over the same packed W2, on every instruction-set path; sampled requests and other
    head kinds keep the torch loop."""
    from dspark.drafters.dspark import DSparkDrafter
    from dspark.sequence import Sequence
    from lossless import random_trained_drafter
    model = packed_tiny("llama", seed=4)
    drafter = random_trained_drafter("dspark", model, gamma=5, tap_layers=[0, 1], draft_vocab_size=96,
                                     markov_rank=64)
    with torch.no_grad():
        drafter.markov_head.markov_w2.weight.normal_(0, 2.0)    # a bias that changes argmaxes
    run_on_fast_runtime(drafter)
    with torch.no_grad():
        assert drafter._packed_markov_w2() is not None
    assert drafter._packed_markov_w2() is None              # under autograd: the torch loop
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(batch, 5, 96, generator=gen)
    hidden = torch.randn(batch, 5, model.cfg.hidden_size, generator=gen)
    anchors = torch.randint(0, 128, (batch,), generator=gen)
    seqs = [Sequence(j, [1, 2, int(anchors[j])], 2, SamplingParams(), None, 16) for j in range(batch)]
    results, torch_form = {}, {}
    with torch.no_grad():                  # as propose runs it (packed products need no autograd)
        for name in PATHS_HERE:
            with kernel_path(name):
                results[name] = drafter._sample(seqs, logits, hidden, anchors)
        with monkeypatch.context() as m:
            m.setattr(DSparkDrafter, "_packed_markov_w2", lambda self: None)
            for name in PATHS_HERE:
                with kernel_path(name):
                    torch_form[name] = drafter._sample(seqs, logits, hidden, anchors)
    for name in PATHS_HERE:
        (props, final), (want_props, want_final) = results[name], torch_form[name]
        assert torch.equal(final, want_final), name
        assert [p.tokens for p in props] == [p.tokens for p in want_props], name
        assert all(torch.equal(p.confidence_logits, q.confidence_logits) for p, q in zip(props, want_props))
        assert torch.equal(final, results["generic"][1]), name
    # the bias mattered: some draft is not the backbone's own argmax
    tokens = torch.tensor([p.tokens for p in results["generic"][0]])
    assert (drafter.to_target_ids(logits.argmax(-1)) != tokens).any()


@pytest.mark.parametrize("top_p,slots", [(1.0, None), (0.9, 1), (1.0, 4)])
def test_sampled_distribution_with_a_drafter_on_the_runtime(top_p, slots, monkeypatch):
    """Sampled output with a DSpark drafter on the runtime follows the target: in batches of 64
    (the batched step form, the loop in torch), one request at a time under the dspark policy,
    where the Markov loop runs in C (rt_markov_sample) with top-p and the policy's stop, and 4 at a
    time (a C round and loop per request, DFlashDrafter.ROUNDS_PER_REQUEST)."""
    from dspark.drafters.dspark import DSparkDrafter
    from lossless import chi_square_pvalue, exact_joint, random_trained_drafter, sample_continuations
    from test_lossless import SPS
    model = packed_tiny("llama", seed=5, vocab=16)
    drafter = random_trained_drafter("dspark", model, gamma=3, tap_layers=[0, 1], draft_vocab_size=16,
                                     markov_rank=64)
    run_on_fast_runtime(drafter)
    in_c, real = [], DSparkDrafter._sample_in_c
    monkeypatch.setattr(DSparkDrafter, "_sample_in_c", lambda self, *a: in_c.append(real(self, *a)) or in_c[-1])
    params = SamplingParams(temperature=1.0, top_p=top_p, seed=11)
    prompt = [3, 7, 2]
    exact = exact_joint(model, prompt, params, 2)
    samples = sample_continuations(model, drafter, prompt, params, 1500, 2, policy="dspark" if slots else "fixed",
                                   sps=SPS, slots=slots)
    assert chi_square_pvalue(samples, exact) > 1e-3
    assert any(r is not None for r in in_c) == (slots is not None)


@pytest.mark.parametrize("top_p", [1.0, 0.7])
def test_sampled_markov_loop_in_c_is_the_torch_loop(top_p):
    """One sampled request's Markov loop in one C call (rt_markov_sample) against the loop in torch:
    at the drafts it drew, the same logits bit for bit, the same distributions (softmax, then the
    nucleus: the same support) up to float summation order, the same confidence logits; with the
    dspark policy's batch-1 rule it stops where the rule in Python stops; every instruction-set path."""
    from dspark.schedule import BatchOneAdmission
    from dspark.sampling import probabilities
    from dspark.sequence import Sequence
    from lossless import random_trained_drafter
    from test_lossless import SPS
    model = packed_tiny("llama", seed=4)
    drafter = random_trained_drafter("dspark", model, gamma=6, tap_layers=[0, 1], draft_vocab_size=96,
                                     markov_rank=64)
    with torch.no_grad():
        drafter.markov_head.markov_w2.weight.normal_(0, 2.0)
        drafter.confidence_head.proj.weight.mul_(2.0)     # logits of a few units: the curvature term counts
    run_on_fast_runtime(drafter)
    drafter.load_calibration({"temperatures": [1.3] * 6, "biases": [0.5, 0.2, 0.0, -0.3, -0.5, -1.0],
                              "curvatures": [0.3, -0.5, 0.0, 0.7, 0.2, -0.2]})   # (sts-beta's; C applies them too)
    gen = torch.Generator().manual_seed(1)
    stops = 0
    for case in range(12):
        logits = torch.randn(1, 6, 96, generator=gen) * 2
        hidden = torch.randn(1, 6, model.cfg.hidden_size, generator=gen)
        anchors = torch.randint(0, 128, (1,), generator=gen)
        params = SamplingParams(temperature=0.8, top_p=top_p, seed=case)
        seq = Sequence(0, [1, 2, int(anchors[0])], 2, params, params.generator("cpu"), 16,
                       confidence_offsets=[0.1, -0.2])
        seq.draft_stop = BatchOneAdmission(SPS) if case % 2 else None
        for name in PATHS_HERE:
            with torch.no_grad(), kernel_path(name):
                seq.generator.manual_seed(case)
                idx, final, q, conf = drafter._sample_in_c([seq], logits, hidden, anchors)
                n = idx.shape[1]
                prev, survivals = anchors, []
                for k in range(n + (1 if n < 6 else 0)):
                    e = drafter.markov_head.embed(prev)
                    c = drafter._confidence(hidden[:, k], e)
                    if k < n:
                        assert torch.allclose(c, conf[:, k], atol=1e-5), (name, case, k)
                    if seq.draft_stop is not None:
                        cal = drafter.calibrated(torch.cat([conf[0, :k], c]), False, seq.confidence_offsets, 0.8)
                        survivals = torch.cumprod(cal.double().clamp(0, 1), 0).tolist()
                        assert seq.draft_stop(survivals) == (k < n), (name, case, k)
                    if k == n:
                        break
                    bias, _ = drafter.markov_head.step(e, hidden[:, k], None)
                    lk = logits[:, k] + bias.float()
                    assert torch.equal(lk[0], final[0, k]), (name, case, k)
                    p = probabilities(lk, params)[0]
                    assert torch.equal(p > 0, q[k] > 0) and torch.allclose(p, q[k], atol=1e-6), (name, case, k)
                    assert q[k, idx[0, k]] > 0
                    prev = drafter.to_target_ids(idx[:, k])
                assert torch.equal(final[0, n:], logits[0, n:])
                stops += n < 6
    assert stops     # the rule stopped some rounds short of the block


def test_argmax_is_torchs_on_every_path():
    """The C argmax gives torch.argmax's index: the first maximum, ties and NaNs included, rows of
    every length around the 16-lane vector width."""
    from dspark.sampling import argmax
    g = torch.Generator().manual_seed(3)
    rows = [torch.randn(n, generator=g) for n in (1, 5, 15, 16, 17, 33, 49152)]
    tie = torch.zeros(40); tie[[7, 23, 39]] = 2.0                       # the first of equal maxima
    late = torch.full((40,), -1.0); late[35] = 5.0; late[38] = 5.0      # maxima in the tail only
    nan = torch.randn(40, generator=g); nan[[9, 30]] = float("nan")     # the first NaN wins
    inf = torch.full((20,), float("-inf"))                              # all -inf: index 0
    rows += [tie, late, nan, inf, torch.tensor([0.0, -0.0]), torch.tensor([-0.0, 0.0])]
    for name in PATHS_HERE:
        with kernel_path(name):
            for r in rows:
                assert int(argmax(r)) == int(r.argmax()), (name, r.numel())
            batch = torch.randn(9, 8192, generator=g)
            assert torch.equal(argmax(batch), batch.argmax(-1)), name
            assert argmax(batch.view(3, 3, 8192)).shape == (3, 3)


def _sampling_rows(g: torch.Generator, V: int) -> torch.Tensor:
    """Logit rows from peaked to flat (nuclei of a few tokens to thousands), one with -inf entries."""
    rows = torch.cat([torch.randn(3, V, generator=g) * s for s in (12, 5, 2, 0.7, 0.2)])
    rows[1, ::7] = float("-inf")
    return rows


@pytest.mark.parametrize("temperature, top_k, top_p", [
    (1.0, 0, 1.0), (0.7, 0, 0.9), (1.3, 0, 0.5), (1.0, 0, 0.99), (0.8, 50, 0.9), (1.0, 9000, 0.95),
    (0.5, 20, 1.0), (1.0, 1, 1.0)])
def test_sampling_in_c_is_the_definition_on_every_path(temperature, top_k, top_p):
    """rt_probabilities against the processing in torch (temperature, top-k, then the nucleus, which
    C finds among the 64 most probable tokens or, past them, by exponent buckets): the same support,
    the same probabilities up to float summation order (and exp's underflow below 1e-37), rows
    summing to 1, and the same bits on every instruction-set path; a vocabulary that is no multiple
    of the 16-lane width."""
    from dspark.sampling import torch_probabilities
    g = torch.Generator().manual_seed(int(temperature * 10) + top_k + int(top_p * 100))
    V = 4099
    logits = _sampling_rows(g, V)
    params = SamplingParams(temperature, top_p, top_k)
    want = torch_probabilities(logits, params)
    first = None
    for name in PATHS_HERE:
        with kernel_path(name):
            got = runtime.probabilities(logits, temperature, top_k, top_p)
        # the same support, but for tokens whose exp underflows: C's at exp(-87), torch's at exp(-104)
        assert not (got > 0)[want == 0].any() and bool((got > 0)[want > 1e-37].all()), name
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(got.double().sum(-1), torch.ones(len(got), dtype=torch.float64), rtol=0, atol=1e-5)
        first = got if first is None else first
        assert torch.equal(got, first), name
    if top_p < 1 and not top_k:
        sizes = (want > 0).sum(-1)
        assert sizes.min() <= 64 < sizes.max()        # both ways of finding the nucleus ran


def test_draws_in_c_land_in_their_tokens_interval():
    """rt_draw: the token whose CDF interval (in index order) holds u * total, for rows of any total
    with tokens of weight 0, which never come, not even at u = 0 or at the top of the CDF (u = 1
    rounds to the total: the last token with weight); the same tokens on every path."""
    g = torch.Generator().manual_seed(5)
    V = 4099
    q = runtime.probabilities(_sampling_rows(g, V), 1.0, 0, 0.9) * torch.rand(15, 1, generator=g) * 3
    q[:, 0] = 0.0
    u = torch.rand(15, generator=g)
    u[0], u[1] = 0.0, 1.0
    cdf = q.double().cumsum(-1)
    picks = None
    for name in PATHS_HERE:
        with kernel_path(name):
            got = runtime.draw(q, u)
        picks = got if picks is None else picks
        assert torch.equal(got, picks), name
    for r, t in enumerate(picks.tolist()):
        assert q[r, t] > 0
        total = float(cdf[r, -1])
        if r == 1:
            assert t == int(q[r].nonzero().max())
            continue
        point, slack = float(u[r]) * total, 1e-5 * total
        assert float(cdf[r, t]) - float(q[r, t]) - slack <= point <= float(cdf[r, t]) + slack, r


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, 0, 1.0), (0.7, 0, 0.9), (0.7, 20, 0.8)])
def test_batched_sampling_in_c_draws_each_rows_token(temperature, top_k, top_p):
    """sample_rows on CPU (rt_sample: one call, no [R, V] distributions kept) gives each row the token
    that sample_logits gives that row alone with the same generator (the processing and the draw of
    the C sampler), on every instruction-set path."""
    from dspark.sampling import sample_logits, sample_rows
    g = torch.Generator().manual_seed(7)
    logits = _sampling_rows(g, 4099)
    params = SamplingParams(temperature, top_p, top_k)
    for name in PATHS_HERE:
        with kernel_path(name):
            for seed in range(3):
                gens = [torch.Generator().manual_seed(100 * seed + r) for r in range(len(logits))]
                batched = sample_rows(logits, params, gens).tolist()
                alone = [int(sample_logits(logits[r:r + 1], params,
                                           torch.Generator().manual_seed(100 * seed + r))[0][0])
                         for r in range(len(logits))]
                assert batched == alone, (name, seed)


def test_block_verdict_in_c_is_the_block_rule():
    """rt_block_verdict against verify.block_acceptance (float64): for blocks of 1-7 drafts it keeps
    the longest prefix whose test passes (u_k < h_k, u_n < a_n), and draws the next token inside its
    interval of the residual max(a_k p_t - p_d, 0) (the target's row after all n), on every path."""
    from dspark.verify import block_acceptance
    g = torch.Generator().manual_seed(11)
    V, checked = 1031, 0
    for case in range(60):
        n = 1 + case % 7
        p_t = torch.softmax(torch.randn(n + 1, V, generator=g, dtype=torch.float64) * 2, -1)
        p_d = torch.softmax(torch.randn(n, V, generator=g, dtype=torch.float64) * 2 + p_t[:n].log(), -1)
        drafts = [int(torch.multinomial(p_d[k], 1, generator=g)) for k in range(n)]
        h, backing = block_acceptance(p_t, p_d, drafts)
        u = torch.rand(n, generator=g)
        u_next = float(torch.rand(1, generator=g))
        if any(abs(float(u[k]) - h[k]) < 1e-4 for k in range(n)):
            continue                                  # a test at round-off distance: either side is right
        want = next((k for k in range(n, 0, -1) if float(u[k - 1]) < h[k - 1]), 0)
        row = p_t[n] if want == n else (backing[want] * p_t[want] - p_d[want]).clamp_min(0)
        cdf = row.cumsum(-1)
        for name in PATHS_HERE:
            with kernel_path(name):
                k, token = runtime.block_verdict(p_t.float(), p_d.float(), drafts, u, u_next)
            assert k == want, (name, case)
            point, slack = u_next * float(cdf[-1]), 1e-4 * float(cdf[-1])
            lo, hi = float(cdf[token] - row[token]), float(cdf[token])
            assert row[token] > 0 and lo - slack <= point <= hi + slack, (name, case)
        checked += 1
    assert checked >= 50


def test_a_table_dspark_profile_wrote_is_used_as_it_is(tmp_path, monkeypatch):
    """`dspark profile` names the kernel build in the table it writes, so the scheduler reads that
    table instead of profiling again (in session 36 the command left the build out, and the first
    run after it measured a table of its own)."""
    import types
    import dspark.models.loader as loader
    from dspark import profile
    from dspark.cli import main
    model = packed_tiny("llama", seed=1)
    target = types.SimpleNamespace(name="tiny-packed", model=model, config=model.cfg)
    monkeypatch.setattr(loader, "load_target", lambda *a, **k: target)
    monkeypatch.setattr(profile, "current_load", lambda: (0.1, 2))     # a quiet machine, whatever runs beside
    out = tmp_path / "sps.json"
    assert main(["profile", "--tokens", "1,2", "--context", "8", "--repeats", "1", "--warmup", "0",
                 "--output", str(out)]) == 0
    calls = []
    monkeypatch.setattr(profile, "profile_sps", lambda *a, **k: calls.append(1))
    table = profile.sps_table_for(target, path=out, log=lambda m: None)
    assert not calls and table.meta["kernels"] == packed.kernels_of(model) is not None
