"""Logits processing and sampling: the one place temperature, top-k and top-p are applied.

Drafters and verification both call `probabilities` with the same parameters, which is what makes
speculative sampling lossless with respect to the *processed* target distribution. Greedy decoding
is the one-hot distribution at the argmax, so the same verification rule covers it exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import DSparkError


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0     # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0               # 0 = off
    seed: int | None = None

    def __post_init__(self):
        if self.temperature < 0:
            raise DSparkError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise DSparkError("top_p must be in (0, 1]")
        if self.top_k < 0:
            raise DSparkError("top_k must be >= 0")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def generator(self, device="cpu") -> torch.Generator:
        g = torch.Generator(device=device)
        if self.seed is None:
            g.seed()
        else:
            g.manual_seed(self.seed)
        return g


def argmax(x: torch.Tensor) -> torch.Tensor:
    """torch.argmax(x, -1): the index of the first maximum (a NaN wins). fp32 CPU rows are scanned
    by the integer runtime's C loop, the same indices ~30x faster (torch reads ~3 ns per element on
    these CPUs: 0.7 ms for an 8-token verification's 9 x 49k logits); elsewhere torch's."""
    rt = cpu_kernels(x) if x.dtype == torch.float32 else None
    if rt is not None:
        return rt.argmax(x)
    return x.argmax(-1)


def _runtime():
    """The integer runtime's module when its C kernels can run here (they take fp32 CPU rows), else None."""
    from .models import runtime
    try:
        runtime.lib()
    except RuntimeError:        # the C runtime could not be built here
        return None
    return runtime


def cpu_kernels(*rows: torch.Tensor):
    """The integer runtime's module when its C kernels can take `rows` (CPU tensors, each with a
    non-empty last dimension) and are built here, else None: torch then does the work."""
    if all(r.device.type == "cpu" and r.dim() >= 1 and r.shape[-1] > 0 for r in rows):
        return _runtime()
    return None


def probabilities(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """logits [R, V] -> the distribution tokens are drawn from, [R, V] fp32: softmax(logits /
    temperature) over the top_k largest logits (0: all), restricted to the nucleus top_p (the fewest
    most probable tokens whose mass reaches it), renormalized. CPU rows run in C (runtime
    .probabilities: the same distribution up to float summation order; a T 0.7 top-p 0.9 row of 49k
    logits ~0.27 -> ~0.07 ms, RESULTS.md, session 44), others in torch (`torch_probabilities`)."""
    rt = None if params.greedy else cpu_kernels(logits)
    if rt is not None:
        return rt.probabilities(logits.float(), params.temperature, params.top_k, params.top_p)
    return torch_probabilities(logits, params)


def torch_probabilities(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """`probabilities` in torch ops (CUDA, or where the C runtime cannot run; the tests' reference)."""
    logits = logits.float()
    if params.greedy:
        return _greedy(logits)[1]
    logits = logits / params.temperature
    vocab = logits.shape[-1]
    if params.top_k and params.top_k < vocab:
        # Work on the k best logits only: the nucleus is then a sort of k values, not of V.
        top, idx = torch.topk(logits, params.top_k, dim=-1)
        probs = torch.zeros_like(logits).scatter_(-1, idx, _nucleus(torch.softmax(top, -1), params.top_p))
        return probs
    probs = torch.softmax(logits, dim=-1)
    return _top_p(probs, params.top_p) if params.top_p < 1.0 else probs


# The candidates `_top_p` looks at per row before it sorts the whole vocabulary: a nucleus is mostly
# tens of tokens, and a top-k of k is a partial selection (0.3 ms for 8 rows of 49k at k = 64 on these
# CPUs, against 14 ms for the full sort that a flat row still gets).
NUCLEUS_CANDIDATES = (64, 1024)


def _top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs [R, V] -> each row's nucleus (`_nucleus` of the row sorted in descending order), without
    sorting the vocabulary where the k largest already hold top_p of the mass: the nucleus then lies
    among them, since every token past them comes after the prefix that reached top_p. Rows whose k
    largest fall short try the next k, and sort in full after the last."""
    vocab = probs.shape[-1]
    out = torch.zeros_like(probs)
    rows = torch.arange(probs.shape[0], device=probs.device)
    for k in (*(k for k in NUCLEUS_CANDIDATES if k < vocab), vocab):
        part = probs if len(rows) == probs.shape[0] else probs.index_select(0, rows)
        if k < vocab:
            top, order = torch.topk(part, k, dim=-1)
        else:
            top, order = part.sort(dim=-1, descending=True)
        mass = top.cumsum(-1)
        done = torch.ones_like(rows, dtype=torch.bool) if k == vocab else mass[:, -1] >= top_p
        if bool(done.any()):
            out.index_put_((rows[done][:, None], order[done]), _nucleus(top[done], top_p, mass[done]))
        rows = rows[~done]
        if not len(rows):
            break
    return out


def _greedy(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 logits -> (each row's argmax, the greedy distribution: 1 there, 0 elsewhere)."""
    tokens = argmax(logits)
    return tokens, torch.zeros_like(logits).scatter_(-1, tokens[..., None], 1.0)


def _nucleus(sorted_p: torch.Tensor, top_p: float, mass: torch.Tensor | None = None) -> torch.Tensor:
    """sorted_p [R, k] in descending order (mass: its cumsum, when at hand) -> the smallest prefix
    whose mass reaches top_p, renormalized (the first token always stays)."""
    if top_p >= 1.0:
        return sorted_p
    keep = ((sorted_p.cumsum(-1) if mass is None else mass) - sorted_p) < top_p
    kept = sorted_p * keep
    return kept / kept.sum(-1, keepdim=True)


def sample(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """probs [R, V] (rows need not sum to 1) -> tokens [R], by inverting the CDF at one uniform per
    row. torch.multinomial draws a random number per vocabulary entry on CPU (~7 ms for a 49k
    vocabulary, more than a batched decode step spends per sequence); one cumsum and a binary
    search give the same distribution for ~0.1 ms."""
    device = generator.device if generator else probs.device
    return _invert_cdf(probs, torch.rand(probs.shape[0], 1, generator=generator, device=device))


def sample_rows(logits: torch.Tensor, params: SamplingParams,
                generators: list[torch.Generator | None]) -> torch.Tensor:
    """logits [R, V] of R requests with the same sampling parameters, each with its own generator ->
    tokens [R]: one batched processing and search, and row i gets exactly the token that
    sample_logits(logits[i:i+1], params, generators[i]) would give it. CPU rows in one C call that
    keeps no [R, V] distributions (runtime.sample)."""
    if params.greedy:
        return argmax(logits)
    u = torch.cat([torch.rand(1, 1, generator=g, device=g.device if g else logits.device) for g in generators])
    rt = cpu_kernels(logits) if logits.dim() == 2 else None
    if rt is not None:
        return rt.sample(logits.float(), params.temperature, params.top_k, params.top_p, u)
    return _invert_cdf(probabilities(logits, params), u)


def _invert_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The token whose CDF interval holds u * total, per row. A token of probability 0 is never
    returned: its interval is empty. CPU rows in C (runtime.draw: the CDF summed in runs, ~0.06 ->
    ~0.01 ms a 49k row), others in torch."""
    rt = cpu_kernels(probs) if probs.dtype == torch.float32 else None
    if rt is not None:
        return rt.draw(probs, u)
    cdf = probs.float().cumsum(-1)
    idx = torch.searchsorted(cdf, u.to(cdf.device) * cdf[:, -1:], right=True).squeeze(-1)
    # u * total can round up to the total itself: fall back to the last token with mass
    over = idx >= probs.shape[-1]
    if over.any():
        last = (probs > 0).float().cumsum(-1).argmax(-1)
        idx = torch.where(over, last, idx)
    return idx


def sample_logits(logits: torch.Tensor, params: SamplingParams,
                  generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Process and sample; returns (tokens [R], the probabilities they were drawn from [R, V])."""
    if params.greedy:                 # one argmax: the one-hot is built from it
        return _greedy(logits.float())
    probs = probabilities(logits, params)
    return sample(probs, generator), probs
