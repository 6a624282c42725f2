"""Packed weights: decode from the quantized form a GGUF checkpoint was stored in.

Both named targets ship as GGUF files whose linears are mostly 32-wide blocks
w = scale * q + low with 4- to 8-bit integers q (SmolLM2: Q4_1 everywhere, Q8_0 for the tied
embedding / LM head). The loader dequantizes them to fp32 once; decoding a few rows is then bound
by reading 32 bits per weight (MODELS.md). `pack_weight` recovers (q, scale, low) from the fp32
matrix and keeps them only if they reproduce every weight to fp32 rounding, so the weights are the
same weights: nothing is quantized here, the quantization already happened upstream.

Two precisions multiply with them (`lay_out` builds the layout of one):
- "fast" (the default): activations are quantized to 8 bits per 32-block too and the products are
  exact integer sums (qkernels.c, driven by runtime.py, which also runs attention in C). This is
  the GGUF as llama.cpp computes it, and it is batch invariant: a row's result does not depend on
  the other rows, so speculative and plain greedy decoding give the same bits.
- "exact": fp32 activations, as transformers computes (packed_gemv.c for up to KERNEL_MAX_ROWS rows,
  BLAS on the fp32 copy beyond); outputs agree with F.linear to fp32 rounding.

Both C files are built once per machine with the system C compiler (about a second each) into the
dspark cache. Without a compiler, off x86-64, on CUDA, in other dtypes, or with DSPARK_PACKED=0
everything runs through F.linear as before.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ..files import cache_root, save_safetensors

log = logging.getLogger(__name__)

BLOCK = 32
# The forms of the integer kernel's scales S and lows L (qkernels.c SCALES_*): each gives the kernel
# the same fp32 values; the compact ones read fewer bytes. fp32 scales and lows were a third of a
# 4-bit matrix's bytes, and a one-row product is bound by its reads.
SCALES_F32, SCALES_F16, SCALES_F16_K8 = 0, 1, 2

# Batches of more rows than this go to BLAS on the fp32 weights: past it the kernel's FMA work,
# not the weight read, dominates (and 16 rows take two passes over the weights). Measured on
# SmolLM2 by benchmarks/packed_linear.py: whole forwards 1.6-2.0x faster up to 8 rows, 1.18x at 12,
# 0.82x at 16.
KERNEL_MAX_ROWS = 12


@contextlib.contextmanager
def kernel_rows(limit: int):
    """Temporarily route batches of up to `limit` rows through the kernel (0: never; benchmarks)."""
    global KERNEL_MAX_ROWS
    saved, KERNEL_MAX_ROWS = KERNEL_MAX_ROWS, limit
    try:
        yield
    finally:
        KERNEL_MAX_ROWS = saved


@dataclass
class PackedWeight:
    """x @ W^T for W [out_features, in_features] = scale * q + low, blockwise along in_features.

    Holds the integers q as recovered (uint8, one per weight) until `lay_out` turns them into the
    layout of the kernel the model runs: `words` for the fp32-activation kernel (packed_gemv.c,
    precision "exact") or `tiles` for the integer kernel (qkernels.c, precision "fast")."""
    q: torch.Tensor | None   # uint8 [out, in], dropped once laid out
    scale: torch.Tensor      # fp32 [out, in / 32]
    low: torch.Tensor        # fp32 [out, in / 32]
    bits: int                # 4 or 8
    out_features: int
    in_features: int
    source: tuple = ()       # (data_ptr, version) of the fp32 weight it was packed from
    exact: bool = True       # every rebuilt weight equals the fp32 one bit for bit
    precision: str = ""      # the layout built by lay_out: "exact" or "fast"
    scale_form: int = SCALES_F32   # how the tiles' scales and lows are stored (compact_scales)

    @property
    def kind(self) -> int:
        """What the integer kernel's `bits` arguments take: bits | scale form << 8."""
        return self.bits | self.scale_form << 8

    @property
    def nbytes(self) -> int:
        held = {"": ("q", "scale", "low"), "exact": ("words", "scale", "low"),
                "fast": ("tiles", "tile_scale", "tile_low")}[self.precision]
        held = [getattr(self, name) for name in held]
        return sum(t.numel() * t.element_size() for t in held)

    def packs(self, weight: torch.Tensor) -> bool:
        """Whether this is still the packed copy of `weight` (the same tensor, not written since)."""
        return self.source == (weight.data_ptr(), weight._version)

    def lay_out(self, precision: str) -> "PackedWeight":
        """Build the layout `precision` multiplies with and drop the plain integers."""
        if precision == "exact":
            self.words = _words_layout(self.q, self.bits)
        elif precision == "fast":
            self.tiles, scale, low = _tile_layout(self.q, self.scale, self.low, self.bits)
            self.tile_scale, self.tile_low, self.scale_form = compact_scales(scale, low)
        else:
            raise ValueError(f"unknown precision {precision!r}")
        self.q = None
        return self.bind(precision)

    def bind(self, precision: str) -> "PackedWeight":
        """Fix the kernel's weight arguments for the layout of `precision` (already built): a decode
        step makes ~150 kernel calls, so their Python cost is worth keeping small."""
        held = (self.words, self.scale, self.low) if precision == "exact" else (self.tiles, self.tile_scale,
                                                                                 self.tile_low)
        self._weights = tuple(t.data_ptr() for t in held) + (self.out_features,
                                                              self.bits if precision == "exact" else self.kind)
        self.precision = precision
        return self


def _fit(blocks: torch.Tensor, low: torch.Tensor, amax: torch.Tensor, step: torch.Tensor, levels: int,
         fp16_step: bool):
    """Integers q in [0, levels) with blocks ~= fma(q, step, low) per block (low: the block minima,
    amax: the block magnitudes), and per block whether every weight is reproduced exactly, or at
    least to a few fp32 ulps."""
    safe = torch.where(step > 0, step, torch.ones_like(step))
    q = torch.round((blocks - low[..., None]) / safe[..., None]).clamp_(0, levels - 1)
    # What the kernel computes, fma(q, step, low): the exact value rounded once. An fp16 step times
    # q (at most 8 bits) is exact in fp32, so fp32 arithmetic rounds once too; otherwise fp64 holds
    # the exact value (24 + 8 significant bits) and the cast rounds it once.
    if fp16_step:
        recon = torch.addcmul(low[..., None], q, step[..., None])
    else:
        recon = (q.double() * step.double()[..., None] + low.double()[..., None]).float()
    err = (recon - blocks).abs().amax(-1)
    exact = err == 0
    # A weight that was never quantized this way is off by up to half a step (~1e-2 relative).
    close = err <= 8 * torch.finfo(torch.float32).eps * amax
    return q, exact, close


def pack_weight(w: torch.Tensor) -> PackedWeight | None:
    """The packed form of an fp32 CPU matrix whose 32-wide row blocks each hold at most 16 (4-bit)
    or 256 (8-bit) evenly spaced values, or None when some block does not."""
    if w.dtype != torch.float32 or w.device.type != "cpu" or w.dim() != 2 or w.shape[1] % 64:
        return None
    n, k = w.shape
    blocks = w.detach().reshape(n, k // BLOCK, BLOCK)
    lo, hi = blocks.amin(-1), blocks.amax(-1)
    amax = torch.maximum(hi.abs(), lo.abs())
    for bits in (4, 8):
        levels = 1 << bits
        if not _few_levels(blocks, levels):
            continue
        # Step candidates per block, as GGUF quantizers produce them: both ends of the range hit
        # (Q4_1, Q5_1), or the largest magnitude at -8 / -16 / +-127 (Q4_0, Q5_0, Q8_0); 5-bit
        # formats go in the 8-bit container. Rounded to fp16, the precision these formats store
        # scales in, so that fp32 arithmetic checks exactness.
        base = ([(hi - lo) / 15, amax / 8] if bits == 4
                else [(hi - lo) / 255, amax / 127, amax / 16, (hi - lo) / 31])
        candidates = [(s.half().float(), True) for s in base]
        q, scale = torch.zeros_like(blocks), torch.zeros_like(lo)   # every block's low is its minimum
        exact_done = torch.zeros_like(lo, dtype=torch.bool)
        close_done = torch.zeros_like(lo, dtype=torch.bool)
        i = 0
        while i < len(candidates) and not bool(exact_done.all()):
            step, fp16_step = candidates[i]
            cq, exact, close = _fit(blocks, lo, amax, step, levels, fp16_step)
            for found, ok in ((exact_done, exact), (close_done, close & ~exact_done)):
                take = ok & ~found
                q[take], scale[take] = cq[take], step[take]
                found |= take
            i += 1
            if i == len(base):
                # Blocks left: the step as computed (fp32), and for 4-bit every range of levels a
                # block may span (K-quant sub-blocks need not use both ends), checked in fp64.
                spans = [(hi - lo) / m for m in range(15, 0, -1)] if bits == 4 else base
                candidates += [(step, False) for step in spans]
        if bool((exact_done | close_done).all()):
            return PackedWeight(q.to(torch.uint8).reshape(n, k), scale.contiguous(),
                                lo.contiguous(), bits, n, k, (w.data_ptr(), w._version),
                                exact=bool(exact_done.all()))
    return None


def quantize_q8(w: torch.Tensor) -> PackedWeight | None:
    """GGUF's Q8_0 form of an fp32 CPU matrix that holds no quantized values yet (a trained
    drafter's weights): per block of 32 weights one fp16 step d = absmax / 127 and integers in
    -127..127, stored as q + 128 with low = -128 d. Off by at most d / 2 per weight. None for shapes
    the integer kernel does not take (in_features a multiple of 64, out_features of 16)."""
    if (w.dtype != torch.float32 or w.device.type != "cpu" or w.dim() != 2 or w.shape[1] % 64
            or w.shape[0] % TILE):
        return None
    n, k = w.shape
    blocks = w.detach().reshape(n, k // BLOCK, BLOCK)
    step = (blocks.abs().amax(-1) / 127).half().float()
    safe = torch.where(step > 0, step, torch.ones_like(step))
    q = (blocks / safe[..., None]).round().clamp(-127, 127) + 128
    return PackedWeight(q.to(torch.uint8).reshape(n, k), step.contiguous(), (-128 * step).contiguous(), 8, n, k,
                        (w.data_ptr(), w._version), exact=False)


def _few_levels(blocks: torch.Tensor, levels: int, sample: int = 512) -> bool:
    """Whether nearly all of a spread sample of blocks hold at most `levels` distinct values: a
    cheap test that spares the exact fits on matrices of another width."""
    flat = blocks.reshape(-1, BLOCK)
    idx = torch.linspace(0, flat.shape[0] - 1, min(sample, flat.shape[0])).long()
    ordered = flat[idx].sort(-1).values
    distinct = 1 + (ordered.diff(dim=-1) != 0).sum(-1)
    return bool((distinct <= levels).float().mean() >= 0.9)


def _words_layout(q: torch.Tensor, bits: int) -> torch.Tensor:
    """q [N, K] uint8 -> the fp32-activation kernel's words (packed_gemv.c): per group of
    8 * (32 / bits) weights, bit field j of word i holds weight 8j + i. Returned as int32
    [N, K * bits / 32]."""
    n, k = q.shape
    fields = 32 // bits
    g = q.reshape(n, k // (8 * fields), fields, 8).transpose(-1, -2)   # [N, groups, word i, field j]
    if bits == 4:   # a word's bytes, little-endian: fields (0, 1), (2, 3), ...
        g = g[..., 0::2] | (g[..., 1::2] << 4)
    return g.contiguous().view(torch.int32).reshape(n, -1)


TILE = 16


def _tile_layout(q: torch.Tensor, scale: torch.Tensor, low: torch.Tensor, bits: int):
    """q [N, K] uint8 -> the integer kernel's tiles (qkernels.c): for each 16 output rows and
    32-wide block, 64-byte chunks whose 32-bit lane j holds 4 consecutive weights of row j
    (4-bit: low nibbles weights 8c + i, high nibbles 8c + 4 + i). Scale and low become
    [N / 16, K / 32, 16]."""
    n, k = q.shape
    t, b = n // TILE, k // BLOCK
    if bits == 4:
        g = q.reshape(t, TILE, b, 4, 8)
        g = g[..., :4] | (g[..., 4:] << 4)                               # [T, 16, B, chunk, 4]
    else:
        g = q.reshape(t, TILE, b, 8, 4)
    tiles = g.permute(0, 2, 3, 1, 4).contiguous().reshape(-1)           # [T, B, chunk, lane, byte]
    per_tile = lambda a: a.reshape(t, TILE, b).transpose(1, 2).contiguous()   # noqa: E731
    return tiles, per_tile(scale), per_tile(low)


def compact_scales(scale: torch.Tensor, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(S, L, form): fp32 scale and low as the most compact form that holds them exactly. fp16
    both (GGUF's Q4_0, Q4_1 and Q5_x store them so); S fp16 and L = S * k with an int8 k (Q8_0,
    whose low is the scale times the block's smallest integer); else fp32 as given (K-quants,
    whose scales are products of two stored numbers)."""
    def same_bits(a, b):                      # not only equal values: -0.0 stays -0.0
        return torch.equal(a.view(torch.int32), b.view(torch.int32))

    half_scale = scale.half()
    if same_bits(half_scale.float(), scale):
        half_low = low.half()
        if same_bits(half_low.float(), low):
            return half_scale, half_low, SCALES_F16
        k = torch.where(scale != 0, low / torch.where(scale != 0, scale, 1), 0).round().clamp(-128, 127)
        if same_bits(scale * k, low):         # an fp16 times an int8 is exact in fp32: what the kernel computes
            return half_scale, k.to(torch.int8), SCALES_F16_K8
    return scale, low, SCALES_F32


def full_scales(p: "PackedWeight") -> tuple[torch.Tensor, torch.Tensor]:
    """The fp32 tile scales and lows of a fast layout, whatever form they are stored in."""
    scale = p.tile_scale.float()
    low = p.tile_low.float() if p.scale_form != SCALES_F16_K8 else scale * p.tile_low.float()
    return scale, low


PRECISIONS = ("fast", "exact")


def default_precision() -> str:
    """DSPARK_PRECISION, or "fast": 8-bit activations against the GGUF's integer weights, as
    llama.cpp computes. "exact" keeps fp32 activations (transformers parity)."""
    value = os.environ.get("DSPARK_PRECISION", "fast")
    if value not in PRECISIONS:
        raise ValueError(f"DSPARK_PRECISION={value!r}: choose one of {', '.join(PRECISIONS)}")
    return value


_LIBS: dict[tuple[str, ...], object] = {}


def compiled(name: str, defines: tuple[str, ...] = ()):
    """The shared library built from `name`.c beside this file (once per machine, into the dspark
    cache), or False when it cannot be had here (no compiler, not x86-64, DSPARK_PACKED=0).
    defines: preprocessor macros of a variant build (qkernels' RT_PROFILE), a library of its own."""
    key = (name, *defines)
    if key not in _LIBS:
        _LIBS[key] = _build(name, defines)
    return _LIBS[key]


def kernel():
    """The fp32-activation kernel (packed_gemv.c), or False."""
    lib = compiled("packed_gemv")
    return lib.packed_gemv if lib else False


def available(precision: str = "exact") -> bool:
    return bool(compiled("packed_gemv" if precision == "exact" else "qkernels"))


# packed_gemv.c is AVX2-only and runs on OpenMP; qkernels.c picks its instruction set per function
# at run time, so it is built for plain x86-64, with float contraction off so that every path does
# the same float operations (see its header).
CFLAGS = {"packed_gemv": ["-O3", "-mavx2", "-mfma", "-fopenmp", "-shared", "-fPIC"],
          "qkernels": ["-O3", "-ffp-contract=off", "-fno-math-errno", "-shared", "-fPIC", "-pthread"]}


def _flags(name: str, defines: tuple[str, ...]) -> list[str]:
    return CFLAGS[name] + [f"-D{d}" for d in defines]


def kernel_digest(name: str, defines: tuple[str, ...] = ()) -> str:
    """What a build of `name`.c is named by: its source and flags (a changed kernel builds anew)."""
    source = Path(__file__).with_name(f"{name}.c")
    return hashlib.sha256(source.read_bytes() + " ".join(_flags(name, defines)).encode()).hexdigest()[:16]


def _build(name: str, defines: tuple[str, ...] = ()):
    if os.environ.get("DSPARK_PACKED", "1") == "0":
        return False
    if platform.machine() not in ("x86_64", "AMD64") or (
            name == "packed_gemv" and torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512")):
        return False
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        log.warning("no C compiler found: packed weights disabled, decoding reads fp32 weights")
        return False
    source = Path(__file__).with_name(f"{name}.c")
    flags = _flags(name, defines)
    lib = cache_root() / "kernels" / f"{name}-{kernel_digest(name, defines)}.so"
    if not lib.exists():
        log.info("building %s (once per machine)", lib.name)
        lib.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib.parent)
        os.close(fd)
        try:
            subprocess.run([cc, *flags, str(source), "-o", tmp, "-lm"], check=True, capture_output=True,
                           text=True)
            os.replace(tmp, lib)      # atomic: concurrent processes never load a half-written file
        except (subprocess.CalledProcessError, OSError) as e:
            os.unlink(tmp)
            err = getattr(e, "stderr", "") or str(e)
            log.warning("cannot build %s (%s): decoding reads fp32 weights", source.name,
                        err.strip().splitlines()[-1] if err.strip() else e)
            return False
    dll = ctypes.CDLL(str(lib))
    i64, ptr, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    if name == "packed_gemv":
        dll.packed_gemv.argtypes = [ptr, i64, i64, ptr, ptr, ptr, i64, c_int, ptr, c_int]
        dll.packed_gemv.restype = None
    return dll


def is_packed(model: torch.nn.Module) -> bool:
    return any(getattr(m, "packed", None) is not None or getattr(m, "packed_qkv", None) is not None
               for m in model.modules())


def packing_of(model: torch.nn.Module) -> str:
    """"" (fp32 weights), "packed" (fp32 activations) or "packed-fast" (the integer runtime): what
    a model's speed depends on."""
    if getattr(model, "runtime", None) is not None:
        return "packed-fast"
    return "packed" if is_packed(model) else ""


def kernels_of(model: torch.nn.Module) -> str | None:
    """The digest of the C kernels a model's forward runs on (None: torch's own), so that what was
    measured on one build (an SPS table) is not reused after the kernels change."""
    packing = packing_of(model)
    return kernel_digest({"packed-fast": "qkernels", "packed": "packed_gemv"}[packing]) if packing else None


def write_cache(path: Path, packed: dict[str, PackedWeight | None]) -> None:
    tensors, meta = {}, {}
    for name, p in packed.items():
        meta[name] = None if p is None else {"bits": p.bits, "exact": p.exact}
        if p is not None:
            tensors.update({f"{name}.q": p.q, f"{name}.scale": p.scale, f"{name}.low": p.low})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_safetensors(tensors, tmp, metadata={"dspark_packed": json.dumps(meta)})
    os.replace(tmp, path)


def read_cache(path: Path) -> dict[str, PackedWeight | None] | None:
    """The stored products, or None (and the file is rebuilt) when it cannot be read."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads(f.metadata()["dspark_packed"])
            out = {}
            for name, m in meta.items():
                if m is None:
                    out[name] = None
                    continue
                q, scale = f.get_tensor(f"{name}.q"), f.get_tensor(f"{name}.scale")
                out[name] = PackedWeight(q, scale, f.get_tensor(f"{name}.low"), m["bits"], q.shape[0],
                                         scale.shape[1] * BLOCK, exact=m["exact"])
            return out
    except Exception as e:   # truncated or foreign file: pack again and overwrite it
        log.warning("ignoring unreadable packed-weight cache %s (%s)", path, e)
        return None


def cache_path_for(weight_files: list[Path]) -> Path:
    """Where the packed form of these weight files is kept: keyed by their paths, sizes and
    modification times, and by the packer's source, so any change starts afresh."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for f in sorted(weight_files):
        st = f.stat()
        h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return cache_root() / "packed" / f"{h.hexdigest()[:20]}.safetensors"
