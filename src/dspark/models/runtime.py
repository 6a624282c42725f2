"""How products run on the CPU (`packed_linear`, both precisions), and the fast precision's forward:
a target's whole decoder step on the integer CPU runtime.

With packed weights (packed.py) in the "fast" precision, every product multiplies 8-bit
activations with the GGUF's 4/8-bit weights in exact integer sums (qkernels.c), and attention runs
in C over the KV cache. Each output takes one fixed sequence of float operations whatever the
number of rows, so the model is batch invariant: a position's logits are bit-equal in a one-token
decode step, inside an 8-token verification, or in a prefill. Plain and speculative greedy decoding
therefore agree token for token with no near-tie caveat.

A layer is one C call (rt_layer): four products (RMSNorm fused into the product that follows it,
the residual added by the product that ends a branch), the attention (rotary and the cache write
inside it), the gated activation and Gemma's sandwich norms; an o or down product whose weight did
not pack runs in fp32 there (rt_f32matmul, batch invariant as well). `run_layer` also holds the same
layer as those calls made one by one from Python, for what rt_layer does not cover: an unpacked qkv
or gate-up product, bf16 products for long forwards, a drafter's blocks over several caches.

The module mirrors TargetModel.forward (decoder.py), which stays the reference: the exact
precision, CUDA, other dtypes and training use it.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os

import torch
import torch.nn.functional as F

from ..batch import FlatBatch
from . import packed
from .kv_cache import KVCache
from .packed import PackedWeight, compiled

PATHS = {"generic": 0, "avx2": 1, "avxvnni": 2, "avx512vnni": 3}

# Products of at least this many rows run in bf16 on oneDNN once `use_bf16_products` is on. On the
# 2-core Xeon (AMX) a layer's MLP products took 0.9 / 1.4 / 4.3 / 66 ms in bf16 against 1.2 / 2.3 /
# 12 / 180-220 ms on the integer kernel at 32 / 64 / 256 / 4,096 rows (0.76 / 0.67 ms at 16).
BF16_MIN_ROWS = 32


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX-512 BF16 / AMX): there oneDNN's bf16 products
    run 3-5x faster than fp32 or 8-bit-activation ones; elsewhere bf16 is emulated and slower."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles for bf16 (Linux's amx_bf16 flag; False where /proc/cpuinfo
    does not say). Only there do oneDNN's bf16 products beat the integer kernel on many rows: on the
    AVX-512 BF16 EPYC (Zen 4, no AMX) 2,048-row forwards ran 1.03-1.10k tokens/s in bf16 against
    1.26-1.37k on the integer kernel (RESULTS.md, session 45)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return cpu_has_bf16() and "amx_bf16" in flags.split()


class _Lib:
    """ctypes bindings of qkernels.c, with the instruction-set path and the thread count."""

    def __init__(self, dll):
        i64, ptr, c_int, c_float = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int, ctypes.c_float
        self.qmatmul = dll.rt_qmatmul
        self.qmatmul.argtypes = [ptr, i64, i64, ptr, c_float, ptr, ptr, ptr, i64, c_int, ptr, ptr, ptr, c_int]
        self.qmatmul.restype = None
        self.attention = dll.rt_attention
        self.attention.argtypes = [ptr, i64, i64, i64, i64, ptr, ptr, c_float, ptr, ptr, ptr, ptr, i64,
                                   ptr, ptr, ptr, i64, c_float, c_float, ptr, c_int]
        self.attention.restype = None
        self.argmax = dll.rt_argmax
        self.argmax.argtypes = [ptr, i64, i64, ptr, c_int]
        self.argmax.restype = None
        self.f32matmul = dll.rt_f32matmul
        self.f32matmul.argtypes = [ptr, i64, i64, ptr, i64, ptr, ptr, ptr, c_int]
        self.f32matmul.restype = None
        self.layer = dll.rt_layer
        self.layer.argtypes = [ptr, ptr, i64, ptr, ptr, ptr, ptr, i64, ptr, ptr, ptr, ptr, c_int]
        self.layer.restype = None
        self.forward = dll.rt_forward
        self.forward.argtypes = [ptr, ptr, i64, ptr, ptr, ptr, ptr, i64, ptr, ptr, ptr, i64, ptr, ptr, ptr, i64, ptr,
                                 c_int]
        self.forward.restype = i64
        self.markov_greedy = dll.rt_markov_greedy
        self.markov_greedy.argtypes = [ptr, i64, i64, i64, ptr, i64, ptr, ptr, ptr, c_int, ptr, ptr, ptr, ptr, c_int]
        self.markov_greedy.restype = None
        self.draft_round = dll.rt_draft_round
        self.draft_round.argtypes = [ptr, ptr, i64, i64, ptr, ptr, ptr, ptr, i64, i64, i64, c_int, ptr, ptr, ptr,
                                     ptr, ptr, c_int]
        self.draft_round.restype = None
        self.markov_sample = dll.rt_markov_sample
        self.markov_sample.argtypes = [ptr, ptr, ptr, i64, i64, c_float, c_float, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr,
                                       ptr, c_int]
        self.markov_sample.restype = i64
        self.probabilities = dll.rt_probabilities
        self.probabilities.argtypes = [ptr, i64, i64, c_float, i64, c_float, ptr, c_int]
        self.probabilities.restype = None
        self.draw = dll.rt_draw
        self.draw.argtypes = [ptr, i64, i64, ptr, ptr, c_int]
        self.draw.restype = None
        self.sample = dll.rt_sample
        self.sample.argtypes = [ptr, i64, i64, c_float, i64, c_float, ptr, ptr, c_int]
        self.sample.restype = None
        self.block_verdict = dll.rt_block_verdict
        self.block_verdict.argtypes = [ptr, ptr, i64, i64, ptr, ptr, c_float, ptr, c_int]
        self.block_verdict.restype = i64
        self._profile_read = dll.rt_profile_read
        self._profile_read.argtypes = [ptr, c_int]
        self._profile_read.restype = c_int
        self.timed = self._profile_read(None, 0) > 0     # built with RT_PROFILE (profiling_lib)
        self._set_threads = dll.rt_set_threads
        self._set_threads.argtypes = [c_int]
        dll.rt_path_supported.argtypes = [c_int]
        # the paths this CPU runs (not every narrower one: AVX-512 VNNI does not imply AVX-VNNI)
        self.supported = [code for code in PATHS.values() if dll.rt_path_supported(code)]
        self.best = max(self.supported)   # the widest, what runs unless forced
        self.threads = 0
        self.path = self.best
        forced = os.environ.get("DSPARK_KERNEL_PATH")
        if forced:
            self.force(forced)

    def profile(self) -> dict[str, float] | None:
        """Seconds spent in each part of the C calls (PROFILE_PARTS) since the last read, which
        zeroes them; None for a build without timers (see profiling_lib)."""
        if not self.timed:
            return None
        out = (ctypes.c_double * len(PROFILE_PARTS))()
        self._profile_read(out, len(PROFILE_PARTS))
        return dict(zip(PROFILE_PARTS, out))

    def force(self, name: str) -> None:
        """Run on a narrower instruction-set path (tests; DSPARK_KERNEL_PATH)."""
        if name not in PATHS:
            raise ValueError(f"unknown kernel path {name!r}: choose one of {', '.join(PATHS)}")
        if PATHS[name] not in self.supported:
            raise ValueError(f"kernel path {name!r} needs instructions this CPU lacks (this CPU runs "
                             f"{', '.join(path_name(c) for c in self.supported)})")
        self.path = PATHS[name]

    def sync_threads(self) -> None:
        """Follow the thread setting (--threads / torch.set_num_threads; see kernel_threads)."""
        n = kernel_threads()
        if n != self.threads:
            self.threads = self._set_threads(n)


# The threads the C kernels use: torch's setting, except inside decode_threads(), which lends them
# all to the C kernels and leaves torch one.
_lent_threads: int | None = None


def kernel_threads() -> int:
    return _lent_threads or torch.get_num_threads()


@contextlib.contextmanager
def decode_threads():
    """Run a decoding step with every thread in the C kernels' pool and torch on one thread.

    Between two C calls a step runs many small torch ops (the gated activation, sampling, a
    drafter's norms and heads). With torch's own pool also set to the cores, the two pools' idle
    threads spin for the cores the other pool needs. dspark shortens OpenMP's spinning
    (GOMP_SPINCOUNT, dspark/__init__.py), but only when it is imported before torch: in a program
    that imported torch first, libgomp spins as long as it likes, and on the 2-core EPYC batch-1
    decoding then ran 1.36-1.49x slower without this (plain, n-gram and DSpark alike; batches of
    8-32 1.32-1.46x). With dspark imported first the two measured the same (RESULTS.md, session 14).
    Only for forwards whose products all run in C: the bf16 products of long forwards
    (use_bf16_products) need torch's threads."""
    global _lent_threads
    n = kernel_threads()
    if n == 1 or _lent_threads is not None:
        yield
        return
    _lent_threads = n
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
        _lent_threads = None


def step_threads(model):
    """decode_threads() for a model whose forward runs on this runtime with every product in C,
    else nothing (the reference forward, CUDA, or bf16 products for long forwards)."""
    fast = getattr(model, "runtime", None)
    if isinstance(fast, FastForward) and fast.bf16_rows == 0:
        return decode_threads()
    return contextlib.nullcontext()


def path_name(path: int) -> str:
    return next(k for k, v in PATHS.items() if v == path)


_LIB: _Lib | None = None

# qkernels.c's timed parts in a build with RT_PROFILE (its PROF_* order): the target layers' four
# products, attention and gated activation (an o or down part includes a sandwich norm), the head,
# and a drafting round's context rows, layers, head and greedy Markov loop with confidences.
PROFILE_PARTS = ("qkv", "attention", "o", "gate_up", "gate", "down", "head", "draft_context", "draft_layers",
                 "draft_head", "draft_markov")


def lib() -> _Lib:
    global _LIB
    if _LIB is None:
        dll = compiled("qkernels")
        if not dll:
            raise RuntimeError("the integer CPU runtime (qkernels.c) could not be built here")
        _LIB = _Lib(dll)
    return _LIB


def profiling_lib() -> _Lib:
    """Switch the runtime to its build with timers (RT_PROFILE; a library of its own, the same
    arithmetic) and return it: `lib().profile()` then splits the C calls' time into
    PROFILE_PARTS (benchmarks/step_profile.py). Each part adds two clock reads a call."""
    global _LIB
    if _LIB is None or not _LIB.timed:
        dll = compiled("qkernels", ("RT_PROFILE",))
        if not dll:
            raise RuntimeError("the integer CPU runtime (qkernels.c) could not be built here")
        _LIB = _Lib(dll)
    return _LIB


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def qmatmul(x: torch.Tensor, pw: PackedWeight, *, norm: torch.Tensor | None = None, eps: float = 0.0,
            bias: torch.Tensor | None = None, residual: torch.Tensor | None = None) -> torch.Tensor:
    """(rmsnorm(x, norm) if norm is given else x) @ W^T (+ bias) (+ residual) with 8-bit
    activations; any number of rows, each computed identically."""
    rt = lib()
    x2 = x.reshape(-1, pw.in_features).contiguous()
    y = torch.empty(x2.shape[0], pw.out_features, dtype=torch.float32)
    if residual is not None:
        residual = residual.reshape(-1, pw.out_features).contiguous()
    rt.qmatmul(x2.data_ptr(), x2.shape[0], pw.in_features, _ptr(norm), eps, *pw._weights,
               _ptr(bias), _ptr(residual), y.data_ptr(), rt.path)
    return y.view(*x.shape[:-1], pw.out_features)


def f32matmul(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
              residual: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight^T (+ bias) (+ residual) in fp32 for a weight that did not pack, each output one
    fixed sequence of operations whatever the number of rows (qkernels.c rt_f32matmul): F.linear's
    result for a row depends on how many rows share the call."""
    rt = lib()
    rt.sync_threads()
    x2 = x.reshape(-1, weight.shape[1]).contiguous()
    w = weight.detach().contiguous()
    y = torch.empty(x2.shape[0], w.shape[0], dtype=torch.float32)
    if residual is not None:
        residual = residual.reshape(-1, w.shape[0]).contiguous()
    if bias is not None:
        bias = bias.contiguous()
    rt.f32matmul(x2.data_ptr(), x2.shape[0], x2.shape[1], w.data_ptr(), w.shape[0], _ptr(bias), _ptr(residual),
                 y.data_ptr(), rt.path)
    return y.view(*x.shape[:-1], w.shape[0])


def argmax(x: torch.Tensor) -> torch.Tensor:
    """torch.argmax(x, -1) (the first maximum; a NaN wins) for fp32 CPU rows, scanned in C: torch's
    argmax reads ~3 ns per element on these CPUs, a greedy step's 49k logits ~0.15 ms per row."""
    rt = lib()
    x2 = x.reshape(-1, x.shape[-1]).contiguous()
    out = torch.empty(x2.shape[0], dtype=torch.int64)
    rt.argmax(x2.data_ptr(), x2.shape[0], x2.shape[1], out.data_ptr(), rt.path)
    return out.view(x.shape[:-1])


def probabilities(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """sampling.probabilities of fp32 CPU rows [..., V] at temperature > 0, in C (rt_probabilities)."""
    rt = lib()
    x = logits.reshape(-1, logits.shape[-1]).contiguous()
    out = torch.empty_like(x)
    rt.probabilities(x.data_ptr(), x.shape[0], x.shape[1], temperature, top_k, top_p, out.data_ptr(), rt.path)
    return out.view(logits.shape)


def draw(q: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Rows of fp32 CPU weights q [R, V] (any totals) and uniforms u [R] -> the tokens whose CDF
    intervals hold u * the row's total (rt_draw; weight-0 tokens never)."""
    rt = lib()
    q = q.contiguous()
    u = u.reshape(-1).to(torch.float32).contiguous()
    out = torch.empty(q.shape[0], dtype=torch.int64)
    rt.draw(q.data_ptr(), q.shape[0], q.shape[1], u.data_ptr(), out.data_ptr(), rt.path)
    return out


def sample(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, u: torch.Tensor) -> torch.Tensor:
    """Rows of fp32 CPU logits [R, V] and uniforms u [R] -> the tokens draw(probabilities(...), u) gives,
    without materializing the [R, V] distributions (rt_sample)."""
    rt = lib()
    x = logits.contiguous()
    u = u.reshape(-1).to(torch.float32).contiguous()
    out = torch.empty(x.shape[0], dtype=torch.int64)
    rt.sample(x.data_ptr(), x.shape[0], x.shape[1], temperature, top_k, top_p, u.data_ptr(), out.data_ptr(), rt.path)
    return out


def block_verdict(p_t: torch.Tensor, p_d: torch.Tensor, drafts: list[int], u: torch.Tensor,
                  u_next: float) -> tuple[int, int]:
    """The block rule for one request's n sampled drafts (at most 64) in one C call
    (rt_block_verdict): p_t [n + 1, V] and p_d [n, V] CPU distributions, u [n] the prefix tests'
    uniforms, u_next the next token's -> (drafts kept, the token drawn after them)."""
    rt = lib()
    n = len(drafts)
    if not 1 <= n <= 64 or p_t.shape[0] != n + 1 or p_d.shape[0] < n:
        raise ValueError(f"block_verdict takes 1-64 drafts with n + 1 target rows, got {n} and {tuple(p_t.shape)}")
    p_t = p_t.to(torch.float32).contiguous()
    p_d = p_d[:n].to(torch.float32).contiguous()
    ids = torch.tensor(drafts, dtype=torch.int64)
    u = u.reshape(-1).to(torch.float32).contiguous()
    nxt = torch.empty(1, dtype=torch.int64)
    k = rt.block_verdict(p_t.data_ptr(), p_d.data_ptr(), n, p_t.shape[1], ids.data_ptr(), u.data_ptr(), float(u_next),
                         nxt.data_ptr(), rt.path)
    return int(k), int(nxt[0])


def markov_greedy(logits: torch.Tensor, w1: torch.Tensor, pw: PackedWeight, d2t: torch.Tensor | None,
                  anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """DSpark's greedy vanilla Markov loop in one C call (qkernels.c rt_markov_greedy): logits
    [B, g, V'] fp32, w1 [vocab, r] fp32, pw the packed W2 [V', r], d2t [V'] or None, anchors [B]
    target ids -> (draft ids [B, g], the logits each was the argmax of [B, g, V'])."""
    rt = lib()
    rt.sync_threads()
    logits, w1 = logits.contiguous(), w1.contiguous()
    b, g, v = logits.shape
    prev = anchors.to(torch.int64).clone()
    final = torch.empty_like(logits)
    idx = torch.empty(b, g, dtype=torch.int64)
    d2t = None if d2t is None else d2t.to(torch.int64).contiguous()
    if pw.precision != "fast" or pw.out_features != v or pw.in_features != w1.shape[1]:
        raise ValueError(f"markov_greedy: W2 [{pw.out_features}, {pw.in_features}] ({pw.precision}) does not fit "
                         f"logits over {v} and W1 of rank {w1.shape[1]}")
    w, scale, low = pw._weights[:3]
    rt.markov_greedy(logits.data_ptr(), b, g, v, w1.data_ptr(), w1.shape[1], w, scale, low, pw.kind, _ptr(d2t),
                     prev.data_ptr(), final.data_ptr(), idx.data_ptr(), rt.path)
    return idx, final


def exact_product(x: torch.Tensor, pw: PackedWeight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ W^T (+ bias) with fp32 activations on the exact precision's kernel (packed_gemv.c)."""
    x2 = x.reshape(-1, pw.in_features).contiguous()
    y = torch.empty(x2.shape[0], pw.out_features, dtype=torch.float32)
    packed.kernel()(x2.data_ptr(), x2.shape[0], pw.in_features, *pw._weights, y.data_ptr(), kernel_threads())
    if bias is not None:
        y += bias
    return y.view(*x.shape[:-1], pw.out_features)


def packed_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  pw: PackedWeight | None) -> torch.Tensor:
    """F.linear(x, weight, bias), through the packed weight's kernel when it applies (fp32, CPU, no
    autograd, `weight` unchanged since it was packed, and for the exact kernel a few rows)."""
    if (pw is None or x.dtype != torch.float32 or x.device.type != "cpu" or torch.is_grad_enabled()
            or not pw.packs(weight)):
        return F.linear(x, weight, bias)
    if pw.precision == "fast":
        return qmatmul(x, pw, bias=bias)
    if x.numel() > packed.KERNEL_MAX_ROWS * x.shape[-1]:
        return F.linear(x, weight, bias)
    return exact_product(x, pw, bias)


def _concat(parts: list[PackedWeight]) -> PackedWeight:
    """One product for several weights on the same input (gate and up): tiles stack along the
    output rows."""
    first = parts[0]
    # scale / low (the exact kernel's form) are not kept: only the tiles are multiplied with.
    out = PackedWeight(None, None, None, first.bits, sum(p.out_features for p in parts),
                       first.in_features, exact=all(p.exact for p in parts))
    out.tiles = torch.cat([p.tiles for p in parts])
    scales, lows = zip(*[packed.full_scales(p) for p in parts])
    out.tile_scale, out.tile_low, out.scale_form = packed.compact_scales(torch.cat(scales), torch.cat(lows))
    return out.bind("fast")


def _norm_weight(norm) -> torch.Tensor:
    """The multiplier an RMSNorm module applies (Gemma's offset norms scale by 1 + w)."""
    w = norm.weight.detach().float()
    return (1.0 + w if norm.offset else w).contiguous()


class _LayerArgs(ctypes.Structure):
    """qkernels.c's layer_t: a layer's constants for rt_layer, filled once."""
    _fields_ = [("w", ctypes.c_void_p * 4), ("S", ctypes.c_void_p * 4), ("L", ctypes.c_void_p * 4),
                ("N", ctypes.c_int64 * 4), ("bits", ctypes.c_int64 * 4), ("wf", ctypes.c_void_p * 4)] + \
               [(name, ctypes.c_void_p) for name in ("qkv_bias", "input_norm", "post_attn_norm", "pre_ff_norm",
                                                     "post_ff_norm", "q_norm", "k_norm")] + \
               [(name, ctypes.c_int64) for name in ("H", "Hq", "Hk", "D", "I", "window", "act", "sandwich")] + \
               [(name, ctypes.c_float) for name in ("eps", "scale", "softcap")]


class _ModelArgs(ctypes.Structure):
    """qkernels.c's model_t: a target's constants for rt_forward (FastForward), filled once."""
    _fields_ = [("layers", ctypes.c_void_p)] + [(n, ctypes.c_int64) for n in ("n_layers", "H", "D")] + \
               [(n, ctypes.c_void_p) for n in ("local", "embed")] + \
               [("vocab", ctypes.c_int64), ("embed_scale", ctypes.c_float)] + \
               [("final_norm", ctypes.c_void_p), ("eps", ctypes.c_float)] + \
               [(n, ctypes.c_void_p) for n in ("head_w", "head_S", "head_L")] + \
               [(n, ctypes.c_int64) for n in ("V", "head_bits")]


class _DraftArgs(ctypes.Structure):
    """qkernels.c's draft_t: a DFlash / DSpark drafter's constants for rt_draft_round
    (DraftForward.round_args)."""
    _fields_ = [("layers", ctypes.c_void_p)] + [(n, ctypes.c_int64) for n in ("n_layers", "H", "g", "D")] + \
               [(n, ctypes.c_void_p) for n in ("fc_w", "fc_S", "fc_L")] + \
               [(n, ctypes.c_int64) for n in ("fc_K", "fc_bits")] + \
               [(n, ctypes.c_void_p) for n in ("hidden_norm", "final_norm", "embed", "mask")] + \
               [("embed_scale", ctypes.c_float)] + \
               [(n, ctypes.c_void_p) for n in ("head_w", "head_S", "head_L")] + \
               [(n, ctypes.c_int64) for n in ("V", "head_bits")] + [("logit_softcap", ctypes.c_float)] + \
               [("w1", ctypes.c_void_p), ("r", ctypes.c_int64)] + \
               [(n, ctypes.c_void_p) for n in ("w2", "w2_S", "w2_L")] + [("w2_bits", ctypes.c_int64)] + \
               [(n, ctypes.c_void_p) for n in ("d2t", "conf_w")] + [("conf_b", ctypes.c_float),
                                                                     ("conf_markov", ctypes.c_int64)]


class _Layer:
    """What the runtime needs of one decoder layer: packed products and norm weights, and, when
    all four products packed, the same in the form of one rt_layer call (`args`)."""

    def __init__(self, layer, cfg):
        attn, mlp = layer.self_attn, layer.mlp
        self.sliding = layer.sliding
        self.window = cfg.sliding_window if layer.sliding and cfg.sliding_window else 0
        self.sandwich = layer.sandwich
        self.qkv = attn.packed_qkv
        self.qkv_weight = None if self.qkv is not None else torch.cat(
            [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).detach()
        self.qkv_bias = (torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias]).detach()
                         if attn.q_proj.bias is not None else None)
        self.o, self.o_weight = attn.o_proj.packed, attn.o_proj.weight
        gate, up = mlp.gate_proj.packed, mlp.up_proj.packed
        if mlp.packed_gate_up is not None:     # a drafter's (pack_linears fuses them itself)
            self.gate_up, self.gate_up_weight = mlp.packed_gate_up, None
        elif gate is not None and up is not None and gate.bits == up.bits:
            self.gate_up, self.gate_up_weight = _concat([gate, up]), None
            mlp.gate_proj.packed = mlp.up_proj.packed = None   # the fused copy replaces them
        else:
            self.gate_up, self.gate_up_weight = None, torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach()
        self.down, self.down_weight = mlp.down_proj.packed, mlp.down_proj.weight
        self.act, self.intermediate = mlp.act, mlp.gate_proj.out_features
        self.input_norm = _norm_weight(layer.input_layernorm)
        self.post_attn_norm = _norm_weight(layer.post_attention_layernorm)
        if self.sandwich:
            self.pre_ff_norm = _norm_weight(layer.pre_feedforward_layernorm)
            self.post_ff_norm = _norm_weight(layer.post_feedforward_layernorm)
        self.q_norm = _norm_weight(attn.q_norm) if attn.q_norm is not None else None
        self.k_norm = _norm_weight(attn.k_norm) if attn.k_norm is not None else None
        self.bf16: dict[str, torch.Tensor] = {}    # bf16 copies of the products' weights (use_bf16_products)
        # o and down (no norm before them) may be fp32 weights that did not pack: rt_f32matmul runs them
        self.fp32 = {i: w.detach().contiguous() for i, (p, w) in ((1, (self.o, self.o_weight)),
                                                                  (3, (self.down, self.down_weight)))
                     if p is None and w is not None and w.dtype == torch.float32 and w.device.type == "cpu"}
        self.args = self._c_args(cfg)
        self.args_ptr = None if self.args is None else ctypes.addressof(self.args)

    def _c_args(self, cfg) -> _LayerArgs | None:
        products = (self.qkv, self.o, self.gate_up, self.down)
        if any((p is None and i not in self.fp32) or (p is not None and getattr(p, "precision", None) != "fast")
               for i, p in enumerate(products)):
            return None
        a = _LayerArgs()
        for i, p in enumerate(products):
            if p is None:
                a.wf[i], a.N[i] = self.fp32[i].data_ptr(), self.fp32[i].shape[0]
            else:
                a.w[i], a.S[i], a.L[i], a.N[i], a.bits[i] = p._weights
        for name in ("qkv_bias", "input_norm", "post_attn_norm", "q_norm", "k_norm"):
            setattr(a, name, _ptr(getattr(self, name)))
        if self.sandwich:
            a.pre_ff_norm, a.post_ff_norm = self.pre_ff_norm.data_ptr(), self.post_ff_norm.data_ptr()
        a.H, a.Hq, a.Hk, a.D, a.I = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, self.intermediate
        a.window, a.act, a.sandwich = self.window, int(self.act != "silu"), int(self.sandwich)   # else GELU (tanh)
        a.eps, a.scale, a.softcap = cfg.rms_norm_eps, cfg.scale, cfg.attn_logit_softcap or 0.0
        return a


def _product(x, pw, weight, *, bf16=None, norm=None, eps=0.0, bias=None, residual=None):
    """A product through the integer kernel, or through torch when its weight did not pack or when
    `bf16` (the weight in bf16: many rows under `use_bf16_products`) is given."""
    if pw is not None and bf16 is None:
        return qmatmul(x, pw, norm=norm, eps=eps, bias=bias, residual=residual)
    if norm is not None:
        x = F.rms_norm(x, (x.shape[-1],), norm, eps)
    if bf16 is not None:
        y = F.linear(x.to(torch.bfloat16), bf16).float()
        if bias is not None:
            y += bias
        return y if residual is None else residual + y
    if x.dtype == weight.dtype == torch.float32 and x.device.type == weight.device.type == "cpu":
        return f32matmul(x, weight, bias, residual)     # batch invariant, as the packed products are
    y = F.linear(x, weight, bias)
    return y if residual is None else residual + y


def run_layer(L: _Layer, x: torch.Tensor, attend, eps: float, b16: dict | None = None,
              kv: tuple | None = None) -> torch.Tensor:
    """One decoder layer on the runtime: x [n, H] -> [n, H]. attend(qkv [n, (Hq + 2 Hk) D]) -> [n, Hq D]
    runs the attention over whatever cache the caller holds (the target's, a drafter's) and decides
    which keys each row sees; b16: the layer's bf16 weights for a many-row forward (use_bf16_products).
    kv: when that attention is one rt_attention call over one cache, its arguments (`cache_args`):
    then a layer whose products all packed runs as one C call (rt_layer), the same products and
    attention as below without the Python between them."""
    if kv is not None and L.args_ptr is not None and not b16:
        rt = lib()
        x = x.contiguous()
        out = torch.empty_like(x)
        rt.layer(L.args_ptr, x.data_ptr(), x.shape[0], *kv, out.data_ptr(), rt.path)
        return out
    b16 = b16 or {}
    qkv = _product(x, L.qkv, L.qkv_weight, bf16=b16.get("qkv"), norm=L.input_norm, eps=eps, bias=L.qkv_bias)
    attn = attend(qkv)
    if L.sandwich:
        h = _product(attn, L.o, L.o_weight, bf16=b16.get("o"))
        x = x + F.rms_norm(h, (h.shape[-1],), L.post_attn_norm, eps)
        gu = _product(x, L.gate_up, L.gate_up_weight, bf16=b16.get("gate_up"), norm=L.pre_ff_norm, eps=eps)
    else:
        x = _product(attn, L.o, L.o_weight, bf16=b16.get("o"), residual=x)
        gu = _product(x, L.gate_up, L.gate_up_weight, bf16=b16.get("gate_up"), norm=L.post_attn_norm, eps=eps)
    g, u = gu[:, :L.intermediate], gu[:, L.intermediate:]
    a = (F.silu(g) if L.act == "silu" else F.gelu(g, approximate="tanh")) * u
    if L.sandwich:
        h = _product(a, L.down, L.down_weight, bf16=b16.get("down"))
        return x + F.rms_norm(h, (h.shape[-1],), L.post_ff_norm, eps)
    return _product(a, L.down, L.down_weight, bf16=b16.get("down"), residual=x)


def cache_args(cos: torch.Tensor, sin: torch.Tensor, k: torch.Tensor, v: torch.Tensor, max_len: int,
               slots: torch.Tensor, positions: torch.Tensor, last: torch.Tensor | None) -> tuple:
    """rt_attention's arguments past the layer's own, for rt_layer (run_layer's kv): rotary tables
    [n, D] fp32, one layer's fp16 caches, each row's slot and position int64 [n], and the last
    position each row sees (None: causal). The caller keeps the tensors alive over the call."""
    return (cos.data_ptr(), sin.data_ptr(), k.data_ptr(), v.data_ptr(), max_len, slots.data_ptr(),
            positions.data_ptr(), _ptr(last))


def layer_caches(cache) -> tuple:
    """The per-layer key and value cache addresses of `cache` as C arrays (rt_forward's and
    rt_draft_round's kc / vc), kept on the cache: its tensors never move, and the arrays live and
    go with it."""
    ptrs = getattr(cache, "_layer_ptrs", None)
    if ptrs is None or ptrs[0] is not cache.k or ptrs[1] is not cache.v:
        n = len(cache.k)
        ptrs = cache._layer_ptrs = (cache.k, cache.v, (ctypes.c_void_p * n)(*[t.data_ptr() for t in cache.k]),
                                    (ctypes.c_void_p * n)(*[t.data_ptr() for t in cache.v]))
    return ptrs[2], ptrs[3]


class RotaryTable:
    """A rotary embedding's cos / sin [P, D] for positions 0..P-1 with P >= what was asked, doubling
    as contexts grow: the rows `rope` gives those positions, computed once instead of every forward
    or drafting round. The C kernels read row p for position p."""

    def __init__(self, rope):
        self.rope = rope
        self.cos = self.sin = None

    def cover(self, end: int) -> bool:
        """Hold at least positions 0..end-1; whether the tables were rebuilt (their addresses moved)."""
        if self.cos is not None and self.cos.shape[0] >= end:
            return False
        size = max(end, 2 * (0 if self.cos is None else self.cos.shape[0]), 512)
        cos, sin = self.rope(torch.arange(size), torch.float32)
        self.cos, self.sin = cos.contiguous(), sin.contiguous()
        return True


class FastForward:
    """TargetModel.forward on the integer runtime (see the module docstring)."""

    def __init__(self, model):
        cfg, m = model.cfg, model.model
        self.cfg = cfg
        self.layers = [_Layer(layer, cfg) for layer in m.layers]
        self.final_norm = _norm_weight(m.norm)
        self.head = model.lm_head.packed
        self.head_weight = model.lm_head.weight
        self.bf16_rows = 0      # 0: every product on the integer kernel (see use_bf16_products)
        # rt_forward's rotary tables: the global one, and the sliding layers' own (Gemma) or the same
        self.rotary = RotaryTable(m.rotary)
        self.rotary_local = RotaryTable(m.rotary_local) if m.rotary_local is not None else self.rotary
        self._table_ptrs = None
        # When every layer is one rt_layer call and the embedding is an fp32 table, the whole forward
        # is one rt_forward call (`args`): the embedding, the layers side by side, which rotary table
        # each reads (1: Gemma's sliding layers' own), and the head where it packed.
        self.args, self.layer_array = None, None
        embed = m.embed_tokens.weight
        if all(L.args is not None for L in self.layers) and embed.dtype == torch.float32 and embed.is_contiguous():
            self.layer_array = (_LayerArgs * len(self.layers))(*[L.args for L in self.layers])
            self.local = torch.tensor([int(L.sliding and m.rotary_local is not None) for L in self.layers],
                                      dtype=torch.int64)
            a = self.args = _ModelArgs()
            a.layers, a.n_layers, a.H, a.D = ctypes.addressof(self.layer_array), len(self.layers), cfg.hidden_size, \
                cfg.head_dim
            a.local, a.embed, a.vocab, a.embed_scale = self.local.data_ptr(), embed.data_ptr(), embed.shape[0], \
                cfg.embed_scale
            a.final_norm, a.eps = self.final_norm.data_ptr(), cfg.rms_norm_eps
            if self.head is not None and self.head.precision == "fast":
                a.head_w, a.head_S, a.head_L, a.V, a.head_bits = self.head._weights
            self._keep = embed          # the address in args stays valid while the model lives

    def __call__(self, model, batch: FlatBatch, cache, taps=(), need_logits=True):
        """ForwardOutput's fields: (logits, taps, hidden or what computes it[, the number of taps when
        they lie side by side])."""
        rt = lib()
        rt.sync_threads()
        cfg, m = self.cfg, model.model
        eps = cfg.rms_norm_eps
        cache.check_room(batch)
        if getattr(cache, "_fast_checked", None) is not cache.k:
            if cache.k[0].dtype != torch.float16 or not cache.blocked_keys or not KVCache.head_major(cache.v[0]):
                # the C attention reads and writes fp16 entries: keys in transposed blocks, values
                # each head's one after another
                raise TypeError(f"the fast runtime needs the fp16 cache of TargetModel.new_cache (blocked keys, "
                                f"head-major values), got {cache.k[0].dtype} keys of shape {tuple(cache.k[0].shape)}")
            cache._fast_checked = cache.k
        n = batch.tokens.shape[0]
        bulk = 0 < self.bf16_rows <= n
        if self.args is not None and not bulk:
            return self._stack(rt, model, batch, cache, taps, need_logits)
        x = m.embed(batch.tokens).contiguous()
        rotary = {False: m.rotary(batch.positions, torch.float32)}
        if m.rotary_local is not None:
            rotary[True] = m.rotary_local(batch.positions, torch.float32)
        slots, positions = batch.row_slot.contiguous(), batch.positions.contiguous()
        hq, hk, d = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        softcap = cfg.attn_logit_softcap or 0.0
        want, tapped = set(taps), {}
        for i, L in enumerate(self.layers):
            cos, sin = rotary[L.sliding and m.rotary_local is not None]

            def attend(qkv, i=i, L=L, cos=cos, sin=sin):
                out = torch.empty(n, hq * d, dtype=torch.float32)
                rt.attention(qkv.data_ptr(), n, hq, hk, d, _ptr(L.q_norm), _ptr(L.k_norm), eps,
                             cos.data_ptr(), sin.data_ptr(), cache.k[i].data_ptr(), cache.v[i].data_ptr(),
                             cache.max_len, slots.data_ptr(), positions.data_ptr(), None, L.window, cfg.scale,
                             softcap, out.data_ptr(), rt.path)
                return out

            kv = cache_args(cos, sin, cache.k[i], cache.v[i], cache.max_len, slots, positions, None)
            x = run_layer(L, x, attend, eps, L.bf16 if bulk else {}, kv)
            if i in want:
                tapped[i] = x
        cache.commit(batch)
        return self._logits(model, batch, x, need_logits), [tapped[i] for i in taps], functools.partial(m.norm, x)

    def _stack(self, rt, model, batch, cache, taps, need_logits):
        """The whole forward as one rt_forward call (what the loop in __call__ does layer by layer)."""
        n, n_layers, h = batch.tokens.shape[0], len(self.layers), self.cfg.hidden_size
        if any(not 0 <= i < n_layers for i in taps):
            raise IndexError(f"tap layers {tuple(taps)} outside the target's {n_layers} layers")
        cos, sin = self._rotary(batch.max_ctx)
        k, v = layer_caches(cache)
        tap_layers = torch.tensor(taps, dtype=torch.int64) if taps else None
        tapped = torch.empty(n, len(taps) * h)
        out = torch.empty(n, h)
        rows = batch.logit_rows
        in_c = need_logits and self.args.head_w is not None
        logits = torch.empty(n if rows is None else rows.shape[0], self.args.V) if in_c else None
        bad = rt.forward(ctypes.addressof(self.args), batch.tokens.data_ptr(), n, cos, sin, k, v, cache.max_len,
                         batch.row_slot.data_ptr(), batch.positions.data_ptr(), _ptr(tap_layers), len(taps),
                         tapped.data_ptr(), out.data_ptr(), _ptr(rows), 0 if rows is None else rows.shape[0],
                         _ptr(logits), rt.path)
        if bad:     # as torch's embedding would: nothing was computed or written
            raise IndexError(f"token id {int(batch.tokens[bad - 1])} outside the vocabulary (0..{self.args.vocab - 1})")
        cache.commit(batch)
        if in_c:
            logits = model.soft_cap(logits)
        elif need_logits:
            logits = self._logits(model, batch, out, need_logits)
        return logits, tapped, functools.partial(model.model.norm, out), len(taps)

    def _logits(self, model, batch, x, need_logits):
        if not need_logits:
            return None
        rows = x if batch.logit_rows is None else x.index_select(0, batch.logit_rows)
        return model.soft_cap(_product(rows, self.head, self.head_weight, norm=self.final_norm,
                                       eps=self.cfg.rms_norm_eps))

    def _rotary(self, end: int):
        """rt_forward's cos and sin arguments: C arrays of the global and the sliding layers' tables,
        which hold at least positions 0..end-1."""
        g, loc = self.rotary, self.rotary_local
        if (g.cover(end) | loc.cover(end)) or self._table_ptrs is None:     # |: both cover
            self._table_ptrs = ((ctypes.c_void_p * 2)(g.cos.data_ptr(), loc.cos.data_ptr()),
                                (ctypes.c_void_p * 2)(g.sin.data_ptr(), loc.sin.data_ptr()))
        return self._table_ptrs


class DraftForward:
    """A DFlash / DSpark drafter's inference on the runtime, next to a fast-precision target: the
    products on the drafter's 8-bit weights (loader.pack_linears), the attention in C over the
    drafter's fp16 context cache. Mirrors DFlashDrafter._flush and _block_forward (the reference,
    which training, CUDA and the exact precision run): at batch 1 a round of the torch form spent
    more time in small ops between its products than in the products (RESULTS.md, session 15)."""

    def __init__(self, drafter):
        cfg = drafter.draft_cfg
        self.cfg = cfg
        self.layers = [_Layer(layer, cfg) for layer in drafter.layers]
        self.fc, self.fc_weight = drafter.fc.packed, drafter.fc.weight
        self.hidden_norm = _norm_weight(drafter.hidden_norm)
        self.final_norm = _norm_weight(drafter.norm)
        self.rotary = RotaryTable(drafter._rope)    # round()'s
        self._round: tuple | None = None   # (the draft head's packed rows, round_args for them)

    def _attend(self, i: int, qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache, rows: slice,
                positions: torch.Tensor, last: torch.Tensor | None, out: torch.Tensor | None) -> None:
        """Layer i's attention for `rows` of qkv, one sequence (its one-slot cache): keys and values
        written at `positions`; with `out`, each row sees the keys up to `last` into out[rows]."""
        rt, cfg = lib(), self.cfg
        L = self.layers[i]
        n = rows.stop - rows.start
        slot = torch.zeros(n, dtype=torch.long)
        rt.attention(qkv[rows].data_ptr(), n, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, _ptr(L.q_norm),
                     _ptr(L.k_norm), cfg.rms_norm_eps, cos[rows].data_ptr(), sin[rows].data_ptr(),
                     cache.k[i].data_ptr(), cache.v[i].data_ptr(), cache.max_len, slot.data_ptr(),
                     positions.data_ptr(), _ptr(last), 0, cfg.scale, cfg.attn_logit_softcap or 0.0,
                     None if out is None else out[rows].data_ptr(), rt.path)

    def context(self, taps: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, parts) -> None:
        """Project context rows into keys and values: taps [m, L*H] (fp32) with their rotary
        tables; parts: (cache, start, count) per sequence, in row order, each writing positions
        start..start+count-1 of its cache (which must hold them)."""
        lib().sync_threads()
        eps = self.cfg.rms_norm_eps
        f = _product(taps.contiguous(), self.fc, self.fc_weight)
        for i, L in enumerate(self.layers):
            # the context's keys and values: k/v_proj(hidden_norm(fc(taps))), no input_layernorm
            qkv = _product(f, L.qkv, L.qkv_weight, norm=self.hidden_norm, eps=eps, bias=L.qkv_bias)
            row = 0
            for cache, start, count in parts:
                self._attend(i, qkv, cos, sin, cache, slice(row, row + count), torch.arange(start, start + count),
                             None, None)
                row += count

    def block(self, x: torch.Tensor, positions: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
              caches) -> torch.Tensor:
        """The draft layers over B blocks: x [B * g, H] block inputs at positions [B, g] (block b
        starts right after the context its cache holds), rotary tables per row; caches: one per
        block. The blocks' keys and values land in the caches past the context (the next context
        rows overwrite them); a block's rows see the context and the whole block. Returns the final
        hidden states [B * g, H], after the drafter's norm."""
        lib().sync_threads()
        cfg = self.cfg
        b, g = positions.shape
        positions = positions.contiguous()
        last = positions[:, -1:].expand(b, g).contiguous()
        slots = torch.zeros(b * g, dtype=torch.long)      # each block's own one-slot cache
        for i, L in enumerate(self.layers):

            def attend(qkv, i=i):
                out = torch.empty(b * g, cfg.num_heads * cfg.head_dim, dtype=torch.float32)
                for j, cache in enumerate(caches):
                    self._attend(i, qkv, cos, sin, cache, slice(j * g, (j + 1) * g), positions[j], last[j], out)
                return out

            # one block (batch 1) attends over one cache: the whole layer can be one C call
            kv = None if b > 1 else cache_args(cos, sin, caches[0].k[i], caches[0].v[i], caches[0].max_len,
                                               slots, positions[0], last[0])
            x = run_layer(L, x, attend, cfg.rms_norm_eps, kv=kv)
        return F.rms_norm(x, (x.shape[-1],), self.final_norm, cfg.rms_norm_eps)

    # --- one sequence's whole round in one call (rt_draft_round) ------------------------------
    def round_args(self, drafter) -> "_DraftArgs | None":
        """rt_draft_round's constants for `drafter` (the one this runtime was attached to), or None
        where the round cannot be one call: a product or head that did not pack into the integer
        layout, a block input table not in fp32. Rebuilt when the draft head's packed rows change
        (DraftHead repacks them after the target's head or the vocabulary mapping changed)."""
        head = drafter.head_weight()
        if self._round is not None and self._round[0] is head:
            return self._round[1]
        self._round = (head, self._draft_args(drafter, head))
        return self._round[1]

    def _draft_args(self, drafter, head: PackedWeight | None) -> "_DraftArgs | None":
        cfg, tcfg = self.cfg, drafter.target_cfg
        embed = drafter.target_model.model.embed_tokens.weight.detach().contiguous()
        fast = lambda pw: pw is not None and pw.precision == "fast"  # noqa: E731
        if (not fast(self.fc) or not fast(head) or any(L.args is None for L in self.layers)
                or embed.dtype != torch.float32 or embed.device.type != "cpu" or head.in_features != cfg.hidden_size):
            return None
        a = _DraftArgs()
        keep = [embed]                  # every tensor whose address the struct holds stays alive with it
        a.layers_arr = (_LayerArgs * len(self.layers))(*[L.args for L in self.layers])
        a.layers = ctypes.addressof(a.layers_arr)
        a.n_layers, a.H, a.g, a.D = len(self.layers), cfg.hidden_size, drafter.gamma, cfg.head_dim
        a.fc_w, a.fc_S, a.fc_L, _, a.fc_bits = self.fc._weights
        a.fc_K = self.fc.in_features
        a.hidden_norm, a.final_norm = self.hidden_norm.data_ptr(), self.final_norm.data_ptr()
        a.embed = embed.data_ptr()
        # DFlashDrafter._block_inputs: the legacy "target" form scales the embedding as the target does
        a.embed_scale = (float(torch.tensor(tcfg.embed_scale, dtype=torch.float32))
                         if drafter.config.layer_form == "target" else 1.0)
        with torch.no_grad():
            mask = drafter._block_inputs(torch.zeros(1, dtype=torch.long))[0, -1].float().contiguous()
        keep.append(mask)
        a.mask = mask.data_ptr()
        a.head_w, a.head_S, a.head_L, a.V, a.head_bits = head._weights
        a.logit_softcap = tcfg.final_logit_softcap or 0.0
        for name, value in drafter.round_heads().items():   # DSpark: its greedy Markov and confidence heads
            if isinstance(value, torch.Tensor):
                keep.append(value)
                value = value.data_ptr()
            setattr(a, name, value)
        a.keep = keep
        return a

    def round(self, args: "_DraftArgs", taps: torch.Tensor | None, start: int, anchor: int, cache,
              greedy: bool, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One sequence's drafting round in one C call (rt_draft_round): the pending context rows
        taps [m, L*H] (or None) for positions start.., then the block's first g = width slots (None:
        the whole block, args.g) after them, anchored on `anchor`; the cache must have room for the
        context and those slots. Returns (logits [1, g, V'],
        hidden [1, g, H], drafted): drafted is (draft ids [1, g], the logits each was the argmax
        of [1, g, V'], confidence logits [1, g] or None) for a greedy request with a Markov head
        (args.w1), else None and the caller samples."""
        rt = lib()
        rt.sync_threads()
        g, h, v = args.g if width is None else width, args.H, args.V
        if not 1 <= g <= args.g:
            raise ValueError(f"a draft width of {g} slots for a block of {args.g}")
        m = 0 if taps is None else taps.shape[0]
        taps = None if taps is None else taps.float().contiguous()
        self.rotary.cover(start + m + g)
        hidden = torch.empty(1, g, h)
        logits = torch.empty(1, g, v)
        markov = greedy and bool(args.w1)
        final = torch.empty(1, g, v) if markov else None
        idx = torch.empty(1, g, dtype=torch.int64) if markov else None
        conf = torch.empty(1, g) if markov and args.conf_w else None
        kc, vc = layer_caches(cache)
        rt.draft_round(ctypes.addressof(args), _ptr(taps), m, start, self.rotary.cos.data_ptr(),
                       self.rotary.sin.data_ptr(), kc, vc, cache.max_len, anchor, g, int(greedy), hidden.data_ptr(),
                       logits.data_ptr(), _ptr(final), _ptr(idx), _ptr(conf), rt.path)
        return logits, hidden, ((idx, final, conf) if markov else None)

    def markov_sample(self, args: "_DraftArgs", logits: torch.Tensor, hidden: torch.Tensor, anchor: int,
                      temperature: float, top_p: float, u: torch.Tensor, cal_t: list[float], cal_b: list[float],
                      cal_e: list[float] | None, sps: list[float] | None):
        """A DSpark drafter's sampled Markov loop over one sequence's block in one C call
        (rt_markov_sample; args.w1 must be set): logits [g, V'] and hidden [g, H] of the backbone
        (g <= args.g: the slots the round drafted),
        u [g] the uniforms each slot draws at, cal_t / cal_b / cal_e the calibration's temperatures,
        biases (the request's online offsets added) and curvatures (None: zeros), sps the
        one-sequence steps per second for 1 to
        g + 1 tokens when the loop is to stop where batch-1 greedy admission would (None: the whole
        block). Returns (draft ids [n], final logits [g, V'] (the backbone's past slot n), the
        distributions drawn from [n, V'], confidence logits [n] or None)."""
        rt = lib()
        rt.sync_threads()
        g, v = logits.shape[0], args.V
        if not 1 <= g <= args.g or hidden.shape[0] != g:
            raise ValueError(f"{g} slots of logits and {hidden.shape[0]} of hidden states for a block of {args.g}")
        logits, hidden = logits.float().contiguous(), hidden.float().contiguous()
        final, q = torch.empty(g, v), torch.empty(g, v)
        idx, conf = torch.empty(g, dtype=torch.int64), torch.empty(g)
        u = u.float().contiguous()
        cal_t, cal_b = torch.tensor(cal_t[:g], dtype=torch.float32), torch.tensor(cal_b[:g], dtype=torch.float32)
        cal_e = torch.tensor(cal_e[:g], dtype=torch.float32) if cal_e is not None and any(cal_e[:g]) else None
        sps_t = None if sps is None else torch.tensor(sps, dtype=torch.float64)
        n = rt.markov_sample(ctypes.addressof(args), logits.data_ptr(), hidden.data_ptr(), g, anchor, temperature,
                             top_p, u.data_ptr(), cal_t.data_ptr(), cal_b.data_ptr(), _ptr(cal_e), _ptr(sps_t),
                             final.data_ptr(), q.data_ptr(), idx.data_ptr(), conf.data_ptr(), rt.path)
        final[n:] = logits[n:]
        return idx[:n], final, q[:n], (conf[:n] if args.conf_w else None)


def use_bf16_products(model, min_rows: int = BF16_MIN_ROWS, native_only: bool = True) -> bool:
    """Run the decoder's products of at least `min_rows` rows in bf16 on oneDNN (AMX) instead of the
    integer kernel; fewer rows keep it. True when on; False (nothing changed) without the fast
    runtime, or without native bf16 (cpu_has_bf16) unless native_only is False (tests).

    For jobs that read many-row forwards and need speed, not bits: feature caching (`deepspec
    cache`), where a prefill of 4,096 tokens runs ~1.5x faster with AMX (and slower without it:
    `cpu_has_amx`). It gives up batch invariance (a
    row's result depends on how many rows share its forward), so decoding that must match plain
    greedy token for token never turns it on. On SmolLM2 the features differ from the integer
    kernel's by 1-4 % and lie 2-3x closer to the fp32 forward's; the committed drafter's held-out
    acceptance on either agreed to 3 decimals (RESULTS.md, session 11). Costs a bf16 copy of the
    decoder's weights (2 bytes per weight)."""
    rt = getattr(model, "runtime", None)
    if rt is None or (native_only and not cpu_has_bf16()):
        return False
    for L, layer in zip(rt.layers, model.model.layers):
        attn, mlp = layer.self_attn, layer.mlp
        weights = {"qkv": torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]),
                   "o": attn.o_proj.weight,
                   "gate_up": torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),
                   "down": mlp.down_proj.weight}
        L.bf16 = {k: w.detach().to(torch.bfloat16).contiguous() for k, w in weights.items()}
    rt.bf16_rows = max(1, int(min_rows))
    return True


def attach(model) -> None:
    """Give a packed (fast precision) target model the runtime forward."""
    lib()
    if model.cfg.head_dim % 8 or model.cfg.num_heads % model.cfg.num_kv_heads:
        return
    model.runtime = FastForward(model)
