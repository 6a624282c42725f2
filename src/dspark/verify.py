"""Lossless chain verification (Leviathan et al. 2023; Chen et al. 2023) for a batch of requests
whose drafts have different lengths, including zero.

For one request with drafts x_1..x_n drawn from p_d,1..p_d,n and target distributions
p_t,1..p_t,n+1 (after the SAME logits processing): accept x_k with probability
min(1, p_t,k(x_k) / p_d,k(x_k)) left to right; at the first rejection draw the replacement from
normalize(max(p_t,k - p_d,k, 0)); if all n survive draw a bonus token from p_t,n+1. The output
then has exactly the target's distribution. Greedy decoding is the case where every p_t is one-hot:
a draft survives iff it equals the target argmax and the replacement is that argmax.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .drafters.base import Proposal
from .sampling import SamplingParams, argmax, probabilities, sample, sample_rows


@dataclass
class Verdict:
    accepted: int          # draft tokens accepted (0..n)
    tokens: list[int]      # the accepted drafts followed by the replacement or bonus token


def verify_one(logits: torch.Tensor, proposal: Proposal, params: SamplingParams,
               generator: torch.Generator | None) -> Verdict:
    """logits [n+1, V]: the target's rows for [anchor, x_1..x_n]."""
    drafts = proposal.tokens
    n = len(drafts)
    if params.greedy:
        target = argmax(logits).tolist()
        a = 0
        while a < n and drafts[a] == target[a]:
            a += 1
        return Verdict(a, drafts[:a] + [target[a]])
    p_t = probabilities(logits, params)
    for k, x in enumerate(drafts):
        p_tx = p_t[k, x]
        if proposal.probs is None:             # deterministic proposal: p_d is one-hot at x
            ratio = p_tx
        else:
            p_dx = proposal.probs[k, x]
            ratio = p_tx / p_dx if p_dx > 0 else p_tx.new_tensor(float("inf") if p_tx > 0 else 0.0)
        u = torch.rand((), generator=generator, device=generator.device if generator else None)
        if u.to(ratio.device) < ratio:
            continue
        if proposal.probs is None:
            residual = p_t[k].clone()
            residual[x] = 0.0
        else:
            residual = (p_t[k] - proposal.probs[k].to(p_t.dtype)).clamp_min(0.0)
        total = residual.sum()
        # total > 0 whenever a rejection is possible; guard against round-off all the same.
        residual = residual / total if total > 0 else p_t[k]
        return Verdict(k, drafts[:k] + [int(sample(residual[None], generator)[0])])
    return Verdict(n, drafts + [int(sample(p_t[n:n + 1], generator)[0])])


def verify(logits: torch.Tensor, proposals: list[Proposal], params: list[SamplingParams],
           generators: list[torch.Generator | None]) -> list[Verdict]:
    """logits [sum(n_i + 1), V]: the rows of each request in order. Requests are independent, so
    verifying them together gives the same tokens as verifying each alone (same generators).

    Requests without drafts only draw their next token. Those sharing sampling parameters (batched
    regeneration, serving with speculation off) are drawn together by `sample_rows`: one batched
    processing of their rows instead of one per request, the same tokens."""
    starts, row = [], 0
    for prop in proposals:
        starts.append(row)
        row += len(prop.tokens) + 1
    if row != logits.shape[0]:
        raise ValueError(f"{logits.shape[0]} logit rows for {row} verified positions")
    out: list[Verdict | None] = [None] * len(proposals)
    plain: dict[tuple, list[int]] = {}       # by the processing parameters (seeds differ per request)
    for i, (prop, p, g) in enumerate(zip(proposals, params, generators)):
        if prop.tokens:
            out[i] = verify_one(logits[starts[i]:starts[i] + len(prop.tokens) + 1], prop, p, g)
        else:
            plain.setdefault((p.temperature, p.top_p, p.top_k), []).append(i)
    for members in plain.values():
        p = params[members[0]]
        # index_select, not a list index: the same rows, ~1 ms less per step on CPU (a list index
        # goes through advanced indexing's general machinery)
        rows = torch.tensor([starts[i] for i in members], device=logits.device)
        tokens = sample_rows(logits.index_select(0, rows), p, [generators[i] for i in members])
        for i, t in zip(members, tokens.tolist()):
            out[i] = Verdict(0, [t])
    return out
