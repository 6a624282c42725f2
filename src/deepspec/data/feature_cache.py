"""On-disk cache of target features (METHOD section 3): the offline alternative to `OnlineFeatures`.

The reference pipeline caches 5 target layers + the final hidden state per token in bf16, which is
6 + 2*H*(L+1) bytes per token (about 38 TB for Qwen3-4B on its data), so the size is estimated and
printed before anything is written (`deepspec cache --dry-run` prints only the estimate).

Layout of a cache directory::

    manifest.json             written atomically (tmp file + rename) after every committed shard
    00000.input_ids.bin       int32   [T]        raw little-endian arrays, no header: dtype and shape
    00000.loss_mask.bin       uint8   [T]        are in the manifest, so every byte on disk is data
    00000.taps.bin            dtype   [T, L*H]   (bfloat16 is stored as its raw 16-bit pattern)
    00000.hidden.bin          dtype   [T, H]
    00001.*.bin ...

dtype is bfloat16, float16, float32 or q8. q8 (GGUF's Q8_0 scheme, for caches too big for the disk
in bf16) stores 8-bit codes and one fp16 scale per block of 32 values, in two more files per shard::

    00000.taps.bin            int8    [T, L*H]     q = round(x / d), in [-127, 127]
    00000.taps_scale.bin      float16 [T, L*H/32]  d = absmax / 127 of each block of 32 values
    00000.hidden.bin          int8    [T, H]
    00000.hidden_scale.bin    float16 [T, H/32]

and is read back as x' = q * d (float32 unless asked otherwise), within d / 2 of x. H must be a
multiple of 32, so a block never straddles two taps. The manifest's "arrays" lists the arrays of
every shard with their dtype and width; a shard's "files" and "sha256" name each of them.

Bytes per token: 4 (input id, int32) + 1 (loss mask, uint8) + (L + 1) * H * bytes(dtype); for q8
4 + 1 + (L + 1) * (H + 2 * H / 32), 53 % of bf16 (3,677 vs 6,917 bytes for H = 576, L = 5). Positions
are not stored (a sample's tokens are contiguous in one shard, position = row - offset) and the
sample index (id -> shard, offset, length) is per sample, in the manifest, not per token. The
paper's 6 + 2*H*(L+1) counts one more byte per token; with bf16 this layout is 5 + 2*H*(L+1).

A shard holds whole samples (a sample never straddles two shards), `shard_tokens` tokens at most
unless one sample alone is longer. Samples go into shards greedily in input order, so the shard
plan depends only on the sample order and `shard_tokens`.

Resuming: the manifest lists only committed shards; a shard is committed when its files are
flushed, checksummed (sha256 per file) and renamed to their final names and the manifest that
names them has been atomically replaced. A killed build leaves at most one uncommitted shard, whose
files are overwritten by the next run; the rerun skips every sample id already in a committed shard
(so no sample is ever duplicated) and, given the same input, ends byte-identical to an
uninterrupted build.

Public API
----------
- `bytes_per_token(hidden, num_taps, dtype)`, `estimate_bytes(num_tokens, hidden, num_taps, dtype)`,
  `describe_estimate(...)`: the size estimate (feature arrays only; the manifest is extra).
- `build_cache(samples, feature_source, out_dir, target_fingerprint, dtype, shard_tokens)`.
- `quantize_q8(x)`, `dequantize_q8(q, d, dtype)`: the q8 storage dtype's codes and scales.
- `CachedFeatures(cache_dir, target=None, verify_checksums=False)`: same call signature as
  `OnlineFeatures` (`__call__(samples) -> list[Features]`, `tap_layers`), plus `.samples()`.
- `add_arguments(parser)`, `run(args)`: `deepspec cache`.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from dspark.errors import DSparkError
from dspark.files import write_text_atomic

FORMAT = "deepspec-feature-cache"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ID_BYTES = 4                      # input id, int32
MASK_BYTES = 1                    # loss mask, uint8
OVERHEAD_BYTES = ID_BYTES + MASK_BYTES
DEFAULT_SHARD_BYTES = 1 << 30     # default shard size: about 1 GiB of feature data
FINGERPRINT_KEYS = ("arch", "vocab_size", "hidden_size", "num_layers")

_DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}
Q8 = "q8"                         # the 8-bit cache dtype: int8 codes, an fp16 scale per Q8_BLOCK values
Q8_BLOCK = 32
# numpy storage dtype of each array dtype (bfloat16 as its raw bits) and how torch views it back.
_STORAGE = {"float32": (np.float32, torch.float32), "float16": (np.float16, torch.float16),
            "bfloat16": (np.uint16, torch.bfloat16), "int32": (np.int32, torch.int32),
            "uint8": (np.uint8, torch.uint8), "int8": (np.int8, torch.int8)}


# --- dtypes and the size estimate ------------------------------------------------------------

def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPE_NAMES:
            raise DSparkError(f"cache dtype must be one of {', '.join(_DTYPE_NAMES.values())}, got {dtype}")
        return dtype
    from dspark.models.loader import parse_dtype
    return parse_dtype(dtype)


def dtype_name(dtype: str | torch.dtype) -> str:
    """The cache dtype's manifest name: float32, bfloat16, float16 or q8."""
    if isinstance(dtype, str) and dtype.lower() == Q8:
        return Q8
    try:
        return _DTYPE_NAMES[_dtype(dtype)]
    except DSparkError:
        raise DSparkError(f"unknown cache dtype {dtype!r}; choose bfloat16 (bf16), float16 (fp16), "
                          f"float32 (fp32) or q8") from None


def bytes_per_token(hidden: int, num_taps: int, dtype: str | torch.dtype = torch.bfloat16) -> int:
    """4 (int32 input id) + 1 (uint8 loss mask) + (num_taps + 1) * hidden * bytes(dtype); for q8
    (num_taps + 1) * (hidden + 2 * hidden / 32): the sum over the arrays a shard stores."""
    specs = _array_specs(int(hidden), int(num_taps), dtype_name(dtype))
    return sum(spec["width"] * _itemsize(spec) for spec in specs.values())


def estimate_bytes(num_tokens: int, hidden: int, num_taps: int, dtype: str | torch.dtype = torch.bfloat16) -> int:
    """Bytes of all the shard files of a cache of `num_tokens` tokens (exact: the files have no
    header). The manifest (about 40 bytes per sample plus 400 per shard) comes on top."""
    return int(num_tokens) * bytes_per_token(hidden, num_taps, dtype)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000.0
    return f"{n} B"  # unreachable


def describe_estimate(num_tokens: int, hidden: int, num_taps: int, dtype: str | torch.dtype = torch.bfloat16,
                      num_samples: int | None = None) -> str:
    """One-paragraph estimate printed before a build (and by --dry-run)."""
    name = dtype_name(dtype)
    per = bytes_per_token(hidden, num_taps, dtype)
    total = estimate_bytes(num_tokens, hidden, num_taps, dtype)
    samples = f" in {num_samples:,} samples" if num_samples is not None else ""
    if name == Q8:
        row = f"({hidden} x 1 (int8) + {hidden // Q8_BLOCK} x 2 (fp16 scale per {Q8_BLOCK})) ({name})"
    else:
        row = f"{hidden} x {torch.empty((), dtype=_dtype(dtype)).element_size()} ({name})"
    return (f"cache estimate: {per:,} bytes/token = {ID_BYTES} (input id) + {MASK_BYTES} (loss mask) + "
            f"({num_taps} taps + 1 hidden) x {row}\n"
            f"cache estimate: {num_tokens:,} tokens{samples} -> {total:,} bytes ({human_bytes(total)}) "
            f"of feature arrays, plus the manifest")


# --- fingerprints ----------------------------------------------------------------------------

def target_fingerprint(target, tap_layers: Sequence[int], name: str | None = None) -> dict[str, Any]:
    """{"name", "arch", "vocab_size", "hidden_size", "num_layers", "tap_layers"} from a loader
    Target, a TargetModel, a ModelConfig or a fingerprint dict (the drafter checkpoint's format)."""
    if isinstance(target, dict):
        fp = {k: target[k] for k in FINGERPRINT_KEYS if k in target}
        missing = [k for k in FINGERPRINT_KEYS if k not in fp]
        if missing:
            raise DSparkError(f"target fingerprint lacks {', '.join(missing)}")
        name = name if name is not None else target.get("name")
    else:
        cfg = getattr(target, "config", None) or getattr(target, "cfg", None) or target
        if not hasattr(cfg, "fingerprint"):
            raise DSparkError(f"cannot take a target fingerprint of {type(target).__name__}")
        fp = dict(cfg.fingerprint())
        name = name if name is not None else getattr(target, "name", None)
    return {"name": name or "?", **fp, "tap_layers": [int(t) for t in tap_layers]}


def _fingerprint_mismatch(cache_fp: dict, target_fp: dict) -> str | None:
    diffs = [f"{k}: cache {cache_fp.get(k)!r} vs target {target_fp.get(k)!r}"
             for k in FINGERPRINT_KEYS if cache_fp.get(k) != target_fp.get(k)]
    return "; ".join(diffs) or None


# --- file helpers ----------------------------------------------------------------------------

def _shard_file(shard: int, array: str) -> str:
    return f"{shard:05d}.{array}.bin"


def _sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, separators=(",", ":")), durable=True)


def read_manifest(cache_dir: str | Path) -> dict:
    path = Path(cache_dir) / MANIFEST
    if not path.exists():
        raise DSparkError(f"no feature cache at {cache_dir} ({MANIFEST} missing): build it with "
                          f"`deepspec cache --out {cache_dir} ...` (a training config's header gives the "
                          f"command) or train with data.features=online")
    try:
        m = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DSparkError(f"{path} is corrupt: {e}") from None
    if m.get("format") != FORMAT or m.get("format_version") != FORMAT_VERSION:
        raise DSparkError(f"{path} is not a {FORMAT} v{FORMAT_VERSION} manifest "
                          f"(format {m.get('format')!r} v{m.get('format_version')!r})")
    return m


def _array_specs(hidden: int, num_taps: int, dtype_s: str) -> dict[str, dict]:
    """The arrays of every shard (name -> dtype and values per token), in file order: what the
    manifest lists, the writer fills and the reader maps."""
    specs = {"input_ids": {"dtype": "int32", "width": 1}, "loss_mask": {"dtype": "uint8", "width": 1}}
    if dtype_s != Q8:
        return {**specs, "taps": {"dtype": dtype_s, "width": num_taps * hidden},
                "hidden": {"dtype": dtype_s, "width": hidden}}
    if hidden % Q8_BLOCK:
        raise DSparkError(f"the q8 cache dtype quantizes blocks of {Q8_BLOCK} values; hidden size {hidden} is "
                          f"not a multiple of {Q8_BLOCK}: use --dtype bfloat16")
    return {**specs, "taps": {"dtype": "int8", "width": num_taps * hidden},
            "taps_scale": {"dtype": "float16", "width": num_taps * hidden // Q8_BLOCK},
            "hidden": {"dtype": "int8", "width": hidden},
            "hidden_scale": {"dtype": "float16", "width": hidden // Q8_BLOCK}}


def _itemsize(spec: dict) -> int:
    return np.dtype(_STORAGE[spec["dtype"]][0]).itemsize


def _open_array(path: Path, spec: dict, rows: int, mode: str) -> np.memmap:
    np_dtype = _STORAGE[spec["dtype"]][0]
    shape = (rows,) if spec["width"] == 1 else (rows, spec["width"])
    return np.memmap(path, dtype=np_dtype, mode=mode, shape=shape)


def _as_torch(arr: np.ndarray, spec: dict) -> torch.Tensor:
    t = torch.from_numpy(arr)
    want = _STORAGE[spec["dtype"]][1]
    return t.view(want) if t.dtype != want else t


# --- q8 ------------------------------------------------------------------------------------

def quantize_q8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x [..., n] (n a multiple of 32) -> int8 codes [..., n] and float16 scales [..., n / 32]: per
    block of 32 consecutive values d = absmax / 127 (0 for an all-zero block), q = round(x / d)."""
    blocks = x.detach().float().unflatten(-1, (-1, Q8_BLOCK))
    exact = blocks.abs().amax(-1) / 127
    d = exact.half()
    # Where fp16 rounded the scale down, take the next fp16 up: then |x| <= 127 d for the stored d,
    # so every value (tiny blocks with subnormal scales too) comes back within d / 2.
    d = torch.where(d.float() < exact, torch.nextafter(d, torch.full_like(d, torch.inf)), d)
    if not torch.isfinite(d).all():
        raise DSparkError(f"features out of the q8 cache dtype's range (non-finite, or |x| over 127 x 65504: "
                          f"largest {blocks.abs().max().item():.4g}); use --dtype bfloat16")
    safe = torch.where(d > 0, d, torch.ones_like(d)).float()   # all-zero blocks: 0 / 1 = 0
    q = (blocks / safe.unsqueeze(-1)).round().clamp(-127, 127).to(torch.int8)
    return q.flatten(-2), d


def dequantize_q8(q: torch.Tensor, d: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """x' = q * d per block of 32 values, exact in float32 (7 + 11 significant bits), cast to `dtype`."""
    # int8 times float32 promotes to float32 in one pass: no float copy of the codes first
    x = torch.mul(q.unflatten(-1, (-1, Q8_BLOCK)), d.to(device=q.device, dtype=torch.float32).unsqueeze(-1))
    return x.flatten(-2).to(dtype)


def _stored(name: str, x: torch.Tensor, dtype_s: str) -> dict[str, torch.Tensor]:
    """The arrays that hold feature `name` (taps or hidden): x itself, or its q8 codes and scales."""
    if dtype_s != Q8:
        return {name: x.detach()}
    q, d = quantize_q8(x)
    return {name: q, f"{name}_scale": d}


# --- building --------------------------------------------------------------------------------

def plan_shards(lengths: Sequence[int], shard_tokens: int) -> list[list[int]]:
    """Greedy, in order: a shard takes samples while it stays within shard_tokens (one sample
    longer than that gets a shard of its own)."""
    shards: list[list[int]] = []
    cur: list[int] = []
    used = 0
    for i, n in enumerate(lengths):
        if cur and used + n > shard_tokens:
            shards.append(cur)
            cur, used = [], 0
        cur.append(i)
        used += n
    if cur:
        shards.append(cur)
    return shards


def _batches(idx: list[int], lengths: Sequence[int], batch_tokens: int) -> Iterable[list[int]]:
    cur: list[int] = []
    used = 0
    for i in idx:
        if cur and used + lengths[i] > batch_tokens:
            yield cur
            cur, used = [], 0
        cur.append(i)
        used += lengths[i]
    if cur:
        yield cur


def _check_sample(s) -> None:
    n = len(s.input_ids)
    if n < 1:
        raise DSparkError(f"sample {s.id!r} has no tokens")
    if len(s.loss_mask) != n:
        raise DSparkError(f"sample {s.id!r}: {len(s.loss_mask)} loss-mask entries for {n} tokens")


def build_cache(samples: Sequence, feature_source: Callable, out_dir: str | Path, target_fingerprint: dict | Any,
                dtype: str | torch.dtype = torch.bfloat16, shard_tokens: int | None = None,
                batch_tokens: int = 8192, progress: bool = True, log=None, products: str | None = None) -> dict:
    """Compute features for `samples` (TokenizedSample list) with `feature_source` (an
    OnlineFeatures or anything with its call signature and `tap_layers`) and store them in
    `out_dir`. Resumes a partial cache in `out_dir` built with the same settings; returns the
    final manifest. `target_fingerprint`: a dict as `target_fingerprint()` returns (tap layers are
    taken from the feature source), or a Target / TargetModel / ModelConfig. `shard_tokens`: most
    tokens per shard (default: about 1 GiB of features per shard). `batch_tokens`: most tokens per
    feature_source call. `log`: where the estimate and messages go (default stderr). `products`: the
    arithmetic the target's products ran in (e.g. "int8", "bf16"), recorded so that a resume cannot
    mix two; None records nothing."""
    log = log or sys.stderr
    out = Path(out_dir)
    taps = [int(t) for t in feature_source.tap_layers]
    fp = _normalize_fp(target_fingerprint, taps)
    hidden = int(fp["hidden_size"])
    dtype_s = dtype_name(dtype)
    per_tok = bytes_per_token(hidden, len(taps), dtype_s)
    if shard_tokens is None:
        shard_tokens = max(1, DEFAULT_SHARD_BYTES // per_tok)
    shard_tokens = int(shard_tokens)
    if shard_tokens < 1 or batch_tokens < 1:
        raise DSparkError("shard_tokens and batch_tokens must be >= 1")

    seen: set[str] = set()
    for s in samples:
        _check_sample(s)
        if s.id in seen:
            raise DSparkError(f"sample id {s.id!r} appears twice in the data; ids must be unique")
        seen.add(s.id)
    total_tokens = sum(len(s.input_ids) for s in samples)
    print(describe_estimate(total_tokens, hidden, len(taps), dtype_s, len(samples)), file=log)

    specs = _array_specs(hidden, len(taps), dtype_s)
    settings = {"format": FORMAT, "format_version": FORMAT_VERSION, "target": fp, "tap_layers": taps,
                "hidden_size": hidden, "dtype": dtype_s, "shard_tokens": shard_tokens,
                "bytes_per_token": per_tok, "arrays": specs}
    if products is not None:
        settings["target_products"] = products
    manifest = _resume_or_start(out, settings, log)
    done = {sid for sid in manifest["samples"]}
    todo = [s for s in samples if s.id not in done]
    if not todo and manifest["complete"]:
        print(f"cache at {out} is complete ({manifest['total_tokens']:,} tokens); nothing to do", file=log)
        return manifest
    if manifest["complete"]:
        print(f"adding {len(todo):,} samples not yet in the complete cache at {out}", file=log)
    manifest["complete"] = False
    out.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(out / MANIFEST, manifest)   # from here on a rerun resumes this directory

    lengths = [len(s.input_ids) for s in todo]
    from tqdm import tqdm
    bar = tqdm(total=manifest["total_tokens"] + sum(lengths), initial=manifest["total_tokens"], unit="tok",
               unit_scale=True, desc="features", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    try:
        first = len(manifest["shards"])
        for k, idx in enumerate(plan_shards(lengths, shard_tokens)):
            shard = first + k
            _write_shard(out, shard, [todo[i] for i in idx], feature_source, specs, dtype_s, batch_tokens, bar)
            # Commit: checksums of the final files, then the manifest naming them (atomic).
            offsets, off = {}, 0
            for i in idx:
                offsets[todo[i].id] = [shard, off, lengths[i]]
                off += lengths[i]
            manifest["shards"].append({
                "index": shard, "num_tokens": off, "num_samples": len(idx),
                "files": {a: _shard_file(shard, a) for a in specs},
                "sha256": {a: _sha256(out / _shard_file(shard, a)) for a in specs}})
            manifest["samples"].update(offsets)
            manifest["total_tokens"] += off
            manifest["num_samples"] = len(manifest["samples"])
            _write_json_atomic(out / MANIFEST, manifest)
    finally:
        bar.close()
    manifest["complete"] = True
    _write_json_atomic(out / MANIFEST, manifest)
    on_disk = sum((out / f).stat().st_size for sh in manifest["shards"] for f in sh["files"].values())
    print(f"cache written to {out}: {manifest['num_samples']:,} samples, {manifest['total_tokens']:,} tokens, "
          f"{len(manifest['shards'])} shards, {on_disk:,} bytes ({human_bytes(on_disk)})", file=log)
    return manifest


def _normalize_fp(fp, taps: list[int]) -> dict:
    out = target_fingerprint(fp, taps)
    if isinstance(fp, dict) and fp.get("tap_layers") is not None and [int(t) for t in fp["tap_layers"]] != taps:
        raise DSparkError(f"target fingerprint has tap layers {list(fp['tap_layers'])}, the feature source "
                          f"{taps}")
    return out


def _resume_or_start(out: Path, settings: dict, log) -> dict:
    if (out / MANIFEST).exists():
        old = read_manifest(out)
        # A cache from before the products were recorded ("target_products" absent) was made without
        # bf16 products (they came later): it resumes, except with them.
        legacy_ok = "target_products" not in old and not str(settings.get("target_products", "")).startswith("bf16")
        diffs = [k for k in settings if old.get(k) != settings[k] and not (k == "target_products" and legacy_ok)]
        if diffs:
            detail = "; ".join(f"{k}: existing {old.get(k)!r} vs now {settings[k]!r}" for k in diffs)
            if "target_products" in diffs:
                detail += " (deepspec cache --products int8 or bf16 chooses the products)"
            raise DSparkError(f"{out} already holds a feature cache built with other settings ({detail}); "
                              f"use another output directory or delete it")
        if old["shards"] and not old.get("complete"):
            print(f"resuming the cache at {out}: {len(old['shards'])} shards, {old['total_tokens']:,} tokens "
                  f"already committed", file=log)
        return old
    if out.exists() and any(out.iterdir()):
        raise DSparkError(f"{out} exists, is not empty and holds no {MANIFEST}; choose an empty or new directory")
    return {**settings, "total_tokens": 0, "num_samples": 0, "shards": [], "samples": {}, "complete": False}


def _write_shard(out: Path, shard: int, samples: list, source: Callable, specs: dict, dtype_s: str,
                 batch_tokens: int, bar) -> None:
    """Fill the shard's files (one per array spec) under .partial names, flush them and rename them
    into place."""
    lengths = [len(s.input_ids) for s in samples]
    rows = sum(lengths)
    tmp = {a: out / (_shard_file(shard, a) + ".partial") for a in specs}
    mm = {a: _open_array(tmp[a], specs[a], rows, "w+") for a in specs}
    try:
        starts = np.concatenate([[0], np.cumsum(lengths)]).tolist()
        mm["input_ids"][:] = np.fromiter((t for s in samples for t in s.input_ids), dtype=np.int64, count=rows)
        mm["loss_mask"][:] = np.fromiter((m for s in samples for m in s.loss_mask), dtype=np.int64, count=rows)
        views = {a: _as_torch(mm[a], specs[a]) for a in specs}
        for batch in _batches(list(range(len(samples))), lengths, batch_tokens):
            feats = source([samples[i] for i in batch])
            if len(feats) != len(batch):
                raise DSparkError(f"feature source returned {len(feats)} results for {len(batch)} samples")
            for i, f in zip(batch, feats):
                n, lo = lengths[i], starts[i]
                want_t, want_h = (n, specs["taps"]["width"]), (n, specs["hidden"]["width"])
                if tuple(f.taps.shape) != want_t or tuple(f.hidden.shape) != want_h:
                    raise DSparkError(f"sample {samples[i].id!r}: features of shape taps {tuple(f.taps.shape)}, "
                                      f"hidden {tuple(f.hidden.shape)}; expected {want_t}, {want_h}")
                for a, v in {**_stored("taps", f.taps, dtype_s), **_stored("hidden", f.hidden, dtype_s)}.items():
                    views[a][lo:lo + n].copy_(v)
            bar.update(sum(lengths[i] for i in batch))
        for a in specs:
            mm[a].flush()
    finally:
        views = None  # noqa: F841  (the torch views hold the mappings too)
        mm.clear()   # drop the mappings before the files are renamed
    for a in specs:
        with tmp[a].open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp[a], out / _shard_file(shard, a))


# --- reading ---------------------------------------------------------------------------------

class CachedFeatures:
    """Features read back from a cache, same call signature as OnlineFeatures.

    cache_dir: a complete cache. target: a loader Target, TargetModel, ModelConfig or fingerprint
    dict to check the cache against (arch, vocab, hidden, layers; a different name only warns).
    tap_layers: the layers the caller needs: the cache's, or a subset of them in any order (only those
    columns are returned). verify_checksums: sha256
    of every shard file at open (reads everything once). dtype / device: what the returned tensors
    are cast to / moved to (default: the cache dtype, CPU, zero-copy views of the memory map; a q8
    cache is dequantized, to float32 by default, on `device`).
    max_open_shards: memory maps kept open at once (LRU).
    require_complete: False also opens a cache whose build is under way or was cut off, with the
    shards committed so far (each one whole and checksummed; a builder only adds shards and swaps
    the manifest atomically), e.g. to train on the samples of a complete build while more samples
    are being added to it. The caller checks that the samples it needs are there (`in`)."""

    def __init__(self, cache_dir: str | Path, target=None, verify_checksums: bool = False,
                 tap_layers: Sequence[int] | None = None, dtype: str | torch.dtype | None = None,
                 device: str | torch.device | None = None, max_open_shards: int = 64,
                 require_complete: bool = True):
        self.cache_dir = Path(cache_dir)
        m = self.manifest = read_manifest(self.cache_dir)
        self.complete = bool(m.get("complete"))
        if require_complete and not self.complete:
            raise DSparkError(
                f"the feature cache at {self.cache_dir} is incomplete ({len(m['shards'])} shards, "
                f"{m['total_tokens']:,} tokens committed): rerun the same `deepspec cache ... --out "
                f"{self.cache_dir}` (or build_cache) to resume the build")
        self.tap_layers = tuple(int(t) for t in m["tap_layers"])
        self.hidden_size = int(m["hidden_size"])
        self.quantized = m["dtype"] == Q8
        # the dtype the cache yields: the stored one, float32 for q8 (codes times scales)
        self.cache_dtype = torch.float32 if self.quantized else _dtype(m["dtype"])
        self.dtype = _dtype(dtype) if dtype is not None else None
        self.device = torch.device(device) if device is not None else None
        if target is not None:
            tfp = target_fingerprint(target, self.tap_layers)
            bad = _fingerprint_mismatch(m["target"], tfp)
            if bad:
                raise DSparkError(f"the feature cache at {self.cache_dir} was built for target "
                                  f"{m['target'].get('name')!r}, not for {tfp['name']!r}: {bad}")
            if tfp["name"] not in ("?", m["target"].get("name")):
                warnings.warn(f"feature cache built for target {m['target'].get('name')!r}, used with "
                              f"{tfp['name']!r} (same architecture and sizes)", stacklevel=2)
            if any(not 0 <= t < tfp["num_layers"] for t in self.tap_layers):
                raise DSparkError(f"cache tap layers {list(self.tap_layers)} do not exist in the "
                                  f"{tfp['num_layers']}-layer target")
        # One cache can serve several drafters: a caller asking for a subset of the cached layers
        # (Eagle-3's 3 taps, MTP's last layer) gets just those columns, in the order it asked for.
        self._tap_select: list[int] | None = None
        self._num_cached_taps = len(self.tap_layers)
        if tap_layers is not None and tuple(int(t) for t in tap_layers) != self.tap_layers:
            wanted = [int(t) for t in tap_layers]
            absent = [t for t in wanted if t not in self.tap_layers]
            if absent:
                raise DSparkError(f"the feature cache at {self.cache_dir} holds tap layers {list(self.tap_layers)}, "
                                  f"but {wanted} were asked for ({absent} missing); build a cache with --taps "
                                  f"{','.join(str(t) for t in sorted(set(wanted) | set(self.tap_layers)))}")
            self._tap_select = [self.tap_layers.index(t) for t in wanted]
            self.tap_layers = tuple(wanted)
        self._specs = m["arrays"]
        self._shards = {sh["index"]: sh for sh in m["shards"]}
        self._index: dict[str, list[int]] = m["samples"]
        self._check_files(verify_checksums)
        self._open: OrderedDict[int, dict[str, np.memmap]] = OrderedDict()
        self._max_open = max(1, int(max_open_shards))

    def _check_files(self, verify: bool) -> None:
        for sh in self._shards.values():
            for a, spec in self._specs.items():
                p = self.cache_dir / sh["files"][a]
                want = sh["num_tokens"] * spec["width"] * _itemsize(spec)
                if not p.exists():
                    raise DSparkError(f"feature cache shard file {p} is missing; rebuild the cache")
                if p.stat().st_size != want:
                    raise DSparkError(f"feature cache shard file {p} has {p.stat().st_size} bytes, expected "
                                      f"{want}: truncated or corrupt; rebuild the cache")
                if verify and _sha256(p) != sh["sha256"][a]:
                    raise DSparkError(f"feature cache shard file {p} fails its sha256 checksum: corrupt; "
                                      f"rebuild the cache")

    def __getstate__(self):   # DataLoader workers (spawn) reopen the memory maps themselves
        state = dict(self.__dict__)
        state["_open"] = OrderedDict()
        return state

    def __len__(self) -> int:
        return len(self._index)

    @property
    def num_tokens(self) -> int:
        return int(self.manifest["total_tokens"])

    def ids(self) -> list[str]:
        return list(self._index)

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index

    def _maps(self, shard: int) -> dict[str, np.memmap]:
        maps = self._open.get(shard)
        if maps is not None:
            self._open.move_to_end(shard)
            return maps
        sh = self._shards[shard]
        # mode "c": private copy-on-write mapping, zero-copy reads and writable in numpy terms so
        # torch.from_numpy accepts it; nothing a caller does to a tensor reaches the file.
        maps = {a: _open_array(self.cache_dir / sh["files"][a], self._specs[a], sh["num_tokens"], "c")
                for a in self._specs}
        self._open[shard] = maps
        while len(self._open) > self._max_open:
            self._open.popitem(last=False)
        return maps

    def _rows(self, sample_id: str, array: str) -> torch.Tensor:
        try:
            shard, off, n = self._index[sample_id]
        except KeyError:
            raise DSparkError(f"sample {sample_id!r} is not in the feature cache at {self.cache_dir}") from None
        return _as_torch(self._maps(shard)[array][off:off + n], self._specs[array])

    def _select_taps(self, rows: torch.Tensor) -> torch.Tensor:
        """The asked-for taps' columns of a taps array (values or q8 scales: equal width per tap)."""
        if self._tap_select is None:
            return rows
        t = rows.shape[0]
        return rows.view(t, self._num_cached_taps, -1)[:, self._tap_select].reshape(t, -1)

    def get(self, sample_id: str):
        """Features of one cached sample by id."""
        from .features import Features
        taps, hidden = self._select_taps(self._rows(sample_id, "taps")), self._rows(sample_id, "hidden")
        if self.quantized:
            # int8 codes travel to the device (a quarter of the float32 bytes) and are expanded there
            dt = self.dtype or self.cache_dtype
            taps = dequantize_q8(taps.to(self.device), self._select_taps(self._rows(sample_id, "taps_scale")), dt)
            hidden = dequantize_q8(hidden.to(self.device), self._rows(sample_id, "hidden_scale"), dt)
        elif self.dtype is not None or self.device is not None:
            taps, hidden = taps.to(device=self.device, dtype=self.dtype), hidden.to(device=self.device, dtype=self.dtype)
        return Features(taps, hidden)

    def __call__(self, samples) -> list:
        out = []
        for s in samples:
            ids = self._rows(s.id, "input_ids")
            if len(s.input_ids) != ids.shape[0] or not torch.equal(ids.long(), torch.as_tensor(s.input_ids, dtype=torch.long)):
                raise DSparkError(f"sample {s.id!r}: its tokens differ from the cached ones ({len(s.input_ids)} vs "
                                  f"{ids.shape[0]} tokens); was the cache built from another data file or "
                                  f"tokenizer / --max-len?")
            out.append(self.get(s.id))
        return out

    def samples(self) -> list:
        """The TokenizedSample list stored in the cache, in build order."""
        from .tokenize import TokenizedSample
        out = []
        for sid in self._index:
            ids = self._rows(sid, "input_ids").tolist()
            mask = self._rows(sid, "loss_mask").tolist()
            out.append(TokenizedSample(id=sid, input_ids=ids, loss_mask=mask))
        return out
