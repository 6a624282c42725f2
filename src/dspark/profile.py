"""The SPS table: the target's steps per second against the number of tokens in one forward.

The hardware-aware scheduler (METHOD section 4) weighs the expected accepted tokens of a candidate
verification batch against what the step costs: tau * SPS(B). SPS(B) is measured here once per
model / device / dtype / thread count (`dspark profile`, or automatically the first time a
hardware-aware policy needs it) and cached as a JSON SPSTable.

Each measured forward looks like a verification step of the engine: B new tokens split as evenly as
possible over min(B, max_seqs) sequences, every sequence with `context` tokens already in its KV
cache, logits for every row. A second, short curve has all B tokens in one sequence: a batch-1
verification, which costs less (its rows share one context; see SPSTable.one_sequence). The sizes
are measured in interleaved rounds, each round in its own shuffled order, so a stall of the machine
spreads over sizes instead of bending one of them; the table holds the median of the repeats.
Where a median still came out above a larger size's, both sizes are measured again (a stall only
ever adds time, so each keeps the lower median), and what noise leaves bent is made non-decreasing
in the number of tokens.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

import torch

from .batch import FlatBatch
from .errors import DSparkError
from .models.packed import kernels_of, packing_of
from .models.runtime import step_threads
from .schedule import SPS_POLICIES, SPSTable

DEFAULT_TOKENS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
ONE_SEQUENCE_TOKENS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)   # a batch-1 verification: gamma + 1 rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


@torch.inference_mode()
def profile_sps(model, tokens: list[int] | tuple[int, ...] = DEFAULT_TOKENS, context: int = 256,
                max_seqs: int = 8, repeats: int = 9, warmup: int = 1, seed: int = 0,
                time_budget: float | None = None, progress=None,
                one_sequence_tokens: list[int] | tuple[int, ...] = ONE_SEQUENCE_TOKENS) -> SPSTable:
    """Measure steps per second of `model` (a TargetModel) for each token count in `tokens`.
    The table holds the median of the repeats (meta also records the minimum and the spread). Nine
    by default: with three, a stall on a 2-core CPU put the 8-token step at 21.5 ms instead of 16.5
    (RESULTS.md, session 14), and the policy then verified too little; time_budget bounds them.
    warmup: untimed forwards at the smallest and the largest size first.
    time_budget (seconds): stop repeating once it is spent (at least one timed round always runs).
    progress(done, total): called after every timed forward (total = repeats x sizes).
    one_sequence_tokens: the sizes of the one-sequence curve (empty: none)."""
    tokens = sorted({int(b) for b in tokens})
    ones = sorted({int(b) for b in one_sequence_tokens})
    if not tokens or tokens[0] < 1 or (ones and ones[0] < 1):
        raise DSparkError("token counts to profile must be positive integers")
    if context < 1 or max_seqs < 1 or repeats < 1 or warmup < 0:
        raise DSparkError("context, max_seqs and repeats must be >= 1 and warmup >= 0")
    device = model.device
    vocab = model.cfg.vocab_size
    seqs = min(max(tokens), max_seqs)
    per_seq_max = max([max(_split(b, min(b, max_seqs))) for b in tokens] + ones)
    cache = model.new_cache(seqs, context + per_seq_max)
    gen = torch.Generator().manual_seed(seed)
    # A realistic cached context: prefill slot 0 with random tokens and copy its keys and values to
    # the other slots (attention cost depends on the lengths; the copy saves seqs - 1 prefills).
    slot0 = cache.allocate()
    ctx_ids = torch.randint(0, vocab, (context,), generator=gen).tolist()
    model(FlatBatch.build([(slot0, 0, ctx_ids)], device, logit_rows=[context - 1]), cache)
    slots = [slot0]
    for _ in range(seqs - 1):
        s = cache.allocate()
        for layer in range(len(cache.k)):
            cache.k[layer][s].copy_(cache.k[layer][slot0])
            cache.v[layer][s].copy_(cache.v[layer][slot0])
        cache.lengths[s] = context
        slots.append(s)

    def one_forward(b: int, one_sequence: bool = False) -> float:
        counts = [b] if one_sequence else _split(b, min(b, max_seqs))
        new = torch.randint(0, vocab, (b,), generator=gen).tolist()
        parts, i = [], 0
        for s, c in zip(slots, counts):
            parts.append((s, context, new[i:i + c]))
            i += c
        batch = FlatBatch.build(parts, device)          # logits for every row, as in verification
        _sync(device)
        with step_threads(model):                       # the threads as the engine's steps have them
            t0 = time.perf_counter()
            model(batch, cache)
            _sync(device)
            dt = time.perf_counter() - t0
        for s in slots:                                 # roll the cache back to the context
            cache.truncate(s, context)
        return dt

    # Warm-up: the smallest and the largest step (the allocator then holds the biggest buffers).
    for _ in range(warmup):
        one_forward(tokens[0])
        one_forward(tokens[-1])
    times: dict[int, list[float]] = {b: [] for b in tokens}
    one_times: dict[int, list[float]] = {b: [] for b in ones}
    sizes = [(b, False) for b in tokens] + [(b, True) for b in ones]
    order = random.Random(seed)
    start = time.perf_counter()
    for rep in range(repeats):
        # a shuffled order each round: a stall that recurs at one point of a round lands on a
        # different size every round
        for i, (b, one) in enumerate(order.sample(sizes, len(sizes))):
            (one_times if one else times)[b].append(one_forward(b, one))
            if progress:
                progress(rep * len(sizes) + i + 1, repeats * len(sizes))
        if time_budget is not None and time.perf_counter() - start > time_budget:
            break
    med = {b: statistics.median(ts) for b, ts in times.items()}
    one_med = {b: statistics.median(ts) for b, ts in one_times.items()}
    # Sizes whose median came out above a larger size's are measured again, interleaved and as many
    # times as the rounds ran, and keep the lower median: a profile taken right after loading once
    # had 3 rows of one sequence at 9.0 ms between 4.2 (2 rows) and 5.8 (4 rows), and the policy
    # then verified at most one draft a round (RESULTS.md, session 43).
    rounds, remeasured = len(times[tokens[0]]), {False: set(), True: set()}
    for _ in range(REMEASURE_PASSES):
        again = [(b, False) for b in bent(med, tokens)] + [(b, True) for b in bent(one_med, ones)]
        if not again:
            break
        fresh: dict[tuple[int, bool], list[float]] = {size: [] for size in again}
        for _ in range(rounds):
            for size in order.sample(again, len(again)):
                fresh[size].append(one_forward(*size))
        for (b, one), ts in fresh.items():
            medians = one_med if one else med
            medians[b] = min(medians[b], statistics.median(ts))
            remeasured[one].add(b)
    spread = {b: (max(ts) - min(ts)) / med[b] if med[b] > 0 else 0.0 for b, ts in times.items()}
    meta = {
        "model": getattr(model, "name", None) or f"{model.cfg.arch}-h{model.cfg.hidden_size}-l{model.cfg.num_layers}",
        "device": device_name(device), "dtype": str(model.dtype).replace("torch.", ""),
        "threads": torch.get_num_threads(), "context": context, "max_seqs": max_seqs,
        "repeats": len(times[tokens[0]]), "warmup": warmup,
        "ms_per_step": [round(med[b] * 1e3, 3) for b in tokens],
        "one_sequence_ms_per_step": [round(one_med[b] * 1e3, 3) for b in ones],
        "ms_per_step_min": [round(min(times[b]) * 1e3, 3) for b in tokens],
        "relative_spread": [round(spread[b], 3) for b in tokens],
        "remeasured": sorted(remeasured[False]), "one_sequence_remeasured": sorted(remeasured[True]),
        "load_average": current_load()[0],
        "cpu_count": os.cpu_count(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    # The table holds the monotone fit of the medians (`non_decreasing`): more tokens never take less
    # time, and a size that measured slower than a larger one made the policy stop admitting drafts
    # there (RESULTS.md, session 37). meta keeps the medians as measured (and measured again).
    one = SPSTable(ones, [1.0 / t for t in non_decreasing([one_med[b] for b in ones])]) if ones else None
    return SPSTable(tokens, [1.0 / t for t in non_decreasing([med[b] for b in tokens])], meta, one)


REMEASURE_PASSES = 2
BENT = 1.05       # a median this much above a larger size's is measured again


def bent(medians: dict[int, float], sizes: list[int]) -> list[int]:
    """The sizes, in order, whose median exceeds a larger size's by more than BENT (and those larger
    sizes): the ones noise bent."""
    out: set[int] = set()
    for i, b in enumerate(sizes):
        for c in sizes[i + 1:]:
            if medians[b] > BENT * medians[c]:
                out.update((b, c))
    return sorted(out)


def non_decreasing(values: list[float]) -> list[float]:
    """The closest non-decreasing sequence in least squares (isotonic regression, pooling adjacent
    violators): step times measured per size, where noise put a size above a larger one (on the
    2-core EPYC, 8 rows of one sequence at 13.4 ms and 10 rows at 11.9 ms in one profile), become
    their mean; a monotone sequence stays as it is."""
    blocks: list[list[float]] = []            # [mean, count] of pooled runs
    for v in values:
        blocks.append([float(v), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, n1), (m2, n2) = blocks[-2], blocks.pop()
            blocks[-1] = [(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2]
    return [m for m, n in blocks for _ in range(int(n))]


def dtype_name(dtype) -> str:
    from .models.loader import parse_dtype
    return str(parse_dtype(dtype)).replace("torch.", "")


def device_name(device) -> str:
    d = torch.device(device)
    return d.type if d.index in (None, 0) else f"{d.type}{d.index}"


def default_sps_path(target, device, dtype, threads: int | None) -> Path:
    """Steps per second depend on the machine, dtype, threads and how the weights are packed (the
    fast precision's runtime, the exact precision's kernel, or none)."""
    from .models.loader import cache_root
    threads = threads or torch.get_num_threads()
    packing = packing_of(target.model)
    packed = f"-{packing}" if packing else ""
    return cache_root() / "sps" / f"{target.name}-{device_name(device)}-{dtype_name(dtype)}-t{threads}{packed}.json"


def label(table: SPSTable, target) -> SPSTable:
    """Name in a table's meta the target it measured and the kernel build it ran on: a cached table
    whose "kernels" differ from the runtime's is profiled again (`sps_table_for`)."""
    table.meta["model"] = target.name
    table.meta["kernels"] = kernels_of(target.model)
    return table


def sps_table_for(target, device=None, dtype=None, threads: int | None = None, path=None,
                  force: bool = False, log=None, **profile_kwargs) -> SPSTable:
    """The SPS table of this target on this device / dtype / thread count: loaded from `path` (or
    the cache directory) when it exists, else profiled now and saved there."""
    device = device if device is not None else target.model.device
    dtype = dtype if dtype is not None else target.model.dtype
    threads = threads or torch.get_num_threads()
    path = Path(path) if path is not None else default_sps_path(target, device, dtype, threads)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if path.exists() and not force:
        table = SPSTable.load(path)
        if table.one_sequence is None:
            # written before session 16: no one-sequence curve, and measured on the slower products
            log(f"{path} predates the one-sequence curve: profiling again")
        elif table.meta.get("kernels") != kernels_of(target.model):
            # the C runtime changed since (a faster layer moves every step's cost, and the policy
            # weighs verification cost against drafts by this table)
            log(f"{path} was profiled on another build of the CPU kernels: profiling again")
        elif busy_warning(table) and not machine_busy(*current_load()):
            # Profiled while other work ran (the first start on a busy machine): other work inflates
            # the small steps most (a 1-token step measured 12.9 ms under a load of 2.6 on 2 cores,
            # against ~6.7 quiet), which skews what verifying drafts seems to cost. Measured again
            # once the machine is quiet, so a busy first start is not kept for the machine's life.
            log(f"{path} was profiled on a busy machine (load average {table.meta.get('load_average')}): "
                f"profiling again now that it is quiet")
        else:
            return table
    profile_kwargs.setdefault("time_budget", 20.0)
    log(f"profiling {target.name} steps per second on {device_name(device)}/{dtype_name(dtype)}/{threads} threads "
        f"for the scheduler (once per machine, about {profile_kwargs['time_budget'] + 15:.0f} s; cached in {path})")
    t0 = time.perf_counter()
    table = label(profile_sps(target.model, **profile_kwargs), target)
    table.save(path)
    log(f"profiled in {time.perf_counter() - t0:.1f} s")
    warning = busy_warning(table)
    if warning:
        log(warning + f"; re-run 'dspark profile' on a quiet machine to replace {path}")
    return table


def sps_for_policies(policies, target, device=None, dtype=None, path=None) -> SPSTable | None:
    """The SPS table the hardware-aware policies need (loaded from `path`, else the cached profile,
    else profiled now), or None when none of `policies` uses one."""
    if isinstance(policies, str):
        policies = [policies]
    if not any(p in SPS_POLICIES for p in policies):
        return None
    return SPSTable.load(path) if path else sps_table_for(target, device, dtype)


def machine_busy(load: float | None, cpus: int | None) -> bool:
    return load is not None and bool(cpus) and load > 1.25 * cpus


def current_load() -> tuple[float | None, int | None]:
    return (round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None), os.cpu_count()


def busy_warning(table: SPSTable) -> str | None:
    load, cpus = (table.meta or {}).get("load_average"), (table.meta or {}).get("cpu_count")
    if machine_busy(load, cpus):
        return (f"warning: the machine was busy while profiling (load average {load} on {cpus} CPUs): "
                f"the SPS table is unreliable")
    return None


def format_table(table: SPSTable) -> str:
    one = table.one_sequence
    lines = [f"{'tokens':>7} {'ms/step':>9} {'steps/s':>9} {'tokens/s':>9}"
             + (f" {'ms/step, one sequence':>22}" if one else "")]
    for b, s in zip(table.tokens, table.steps_per_second):
        cell = f" {1e3 / one(b):>22.1f}" if one and b in one.tokens else (f" {'':>22}" if one else "")
        lines.append(f"{b:>7} {1e3 / s:>9.1f} {s:>9.2f} {b * s:>9.1f}{cell}")
    for b in (one.tokens if one else []):
        if b not in table.tokens:
            lines.append(f"{b:>7} {'':>9} {'':>9} {'':>9} {1e3 / one(b):>22.1f}")
    return "\n".join(lines)
