"""Drafter training losses (METHOD section 3) and the training-time acceptance metrics.

Every algorithm is reduced to the same picture: blocks. A block has an anchor position p (a known
token whose successor is supervised: loss_mask[p] = loss_mask[p + 1] = 1) and gamma slots; slot k
predicts token p + k + 1, and the target's distribution for that token is
p_t = softmax(target LM head(final normed hidden at row p + k)).

- DSpark / DFlash: forward_train packs the blocks of a sequence (BlockTrainOutput.labels /
  target_rows follow this convention directly).
- Eagle3 / MTP: the training-time-test row t = p - 1 at unrolled step k predicts tokens[t + 2 + k]
  = tokens[p + 1 + k] (ChainDrafter.train_alignment), i.e. block p, slot k.

A block's supervised prefix stops at the first slot whose label is past the sequence end or outside
the loss mask (`supervised_prefix`). Each loss term is a weighted mean over the supervised slots of
the whole global batch with weight w_k:

    DSpark / DFlash   w_k = exp(-k / position_decay)    (position_decay 4.0, the reference code's)
    Eagle3 / MTP      w_k = step_weight ** k            (0.8, EAGLE-3's training-time test)

Terms (alpha = the config's weight; defaults in `DEFAULT_WEIGHTS`):
    ce       -log p_d(label)                      (on the draft vocabulary; labels outside it skip)
    l1       ||p_d - p_t||_1                      (p_d = the Markov-corrected draft distribution)
    bce      BCE(confidence logit, c*)            c* = 1 - 0.5 ||p_d - p_t||_1, detached
    soft_ce  -sum_v p_t(v) log p_d(v)
    greedy_ce -log p_d(argmax p_t)                (the target's greedy token, whatever was sampled: what
                                                   T = 0 acceptance asks of the draft's argmax, which l1
                                                   weighs no more than any other token's mass)

With a reduced draft vocabulary both p_d and p_t are distributions over the draft vocabulary
(`drafter.head_logits` on the target's hidden gives the target logits restricted to it).

Metrics from c* (prefix survival): accept_rate@k = mean over blocks whose slot k is supervised of
prod_{i<=k} c*_i; simulated tau = 1 + sum_k accept_rate@k. c* is the acceptance of a draft sampled at
T = 1. For greedy decoding the same prefix rule with "the draft's argmax is the target's argmax" per
slot gives greedy_accept@k and tau_greedy (over the draft vocabulary: a target argmax outside it,
~0.1 % of answer tokens for SmolLM2, counts as matched when the drafter's argmax is the draft
vocabulary's best). Teacher-forced, so exact for a block whose earlier slots matched when the labels
are the target's own greedy tokens, as in greedy answers (the Markov head reads the labels).

Those are averages over anchors drawn uniformly among the answer tokens. Greedy decoding does not
draft at uniform positions: each round starts right after the last one's first miss, so hard
stretches get more rounds than easy ones, and the per-anchor average overstates the tokens a round
(session 47: DSpark-1f on Table 1's own greedy answers, tau_greedy 2.4-3.0 per set against the
decoded 2.0-2.6). `greedy_walk` replays the decoding instead: from each answer's first token, a
round at anchor p keeps the leading argmax matches L(p) and the target's next token, so the next
round is at p + L(p) + 1. With every answer position as an anchor, on answers that are the target's
own greedy tokens, that is the greedy decoding's tau (tau_walk; `[logging] eval_walk`).

To make the loss of a step independent of how its sequences are split over processes and
micro-batches, the weight sums (denominators) are computed for the whole global batch up front from
the token ids and loss masks alone (`BlockPlan.denominators`), and each sequence contributes
numerator / global denominator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

TERMS = ("ce", "l1", "bce", "soft_ce", "greedy_ce")

# Per algorithm the default alpha of each term (METHOD section 3).
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "dspark": {"ce": 0.1, "l1": 0.9, "bce": 1.0, "soft_ce": 0.0, "greedy_ce": 0.0},
    "dflash": {"ce": 1.0, "l1": 0.0, "bce": 0.0, "soft_ce": 0.0, "greedy_ce": 0.0},
    "eagle3": {"ce": 0.0, "l1": 0.0, "bce": 0.0, "soft_ce": 1.0, "greedy_ce": 0.0},
    "mtp": {"ce": 0.5, "l1": 0.0, "bce": 0.0, "soft_ce": 0.5, "greedy_ce": 0.0},
}
BLOCK_ALGORITHMS = ("dspark", "dflash")      # parallel blocks: exp(-k / decay) position weights
CHAIN_ALGORITHMS = ("eagle3", "mtp")         # training-time test: step_weight ** k


def position_weights(gamma: int, decay: float = 4.0, device=None) -> torch.Tensor:
    """w_k = exp(-k / decay), k = 0..gamma-1 (fp32)."""
    k = torch.arange(gamma, dtype=torch.float32, device=device)
    return torch.exp(-k / decay)


def step_weights(gamma: int, base: float = 0.8, device=None) -> torch.Tensor:
    """w_k = base ** k, k = 0..gamma-1 (fp32)."""
    k = torch.arange(gamma, dtype=torch.float32, device=device)
    return torch.pow(torch.tensor(base, dtype=torch.float32, device=device), k)


def supervised_prefix(loss_mask: torch.Tensor, anchors: torch.Tensor, gamma: int) -> torch.Tensor:
    """[A, gamma] bool: slot k of the block anchored at p is supervised iff every label position
    p + 1 .. p + 1 + k exists and is inside the loss mask (the contiguous valid prefix)."""
    m = loss_mask.bool().flatten()
    t_len = m.numel()
    pos = anchors.long().flatten()[:, None] + 1 + torch.arange(gamma, device=anchors.device)
    ok = (pos < t_len) & m.to(pos.device)[pos.clamp(max=t_len - 1)]
    return ok.long().cumprod(dim=1).bool()


@dataclass
class BlockPlan:
    """What a sequence contributes to a step, decided before any forward pass."""
    anchors: torch.Tensor          # [A] int64 anchor positions
    supervised: torch.Tensor       # [A, gamma] bool
    weights: torch.Tensor          # [A, gamma] fp32: w_k where supervised, else 0
    ce_ok: torch.Tensor            # [A, gamma] bool: supervised and label in the draft vocabulary

    def denominators(self) -> dict[str, float]:
        """Weight sums: 'all' (l1, bce, soft_ce, greedy_ce) and 'ce' (labels in the draft vocabulary)."""
        return {"all": float(self.weights.sum()), "ce": float(self.weights[self.ce_ok].sum()),
                "blocks": float(self.anchors.numel()), "slots": float(self.supervised.sum())}


def make_plan(tokens: torch.Tensor, loss_mask: torch.Tensor, anchors: torch.Tensor, weights_k: torch.Tensor,
              t2d: torch.Tensor | None = None) -> BlockPlan:
    """The plan of one sequence for given anchors. t2d (bool [V]) marks the draft vocabulary."""
    gamma = weights_k.numel()
    sup = supervised_prefix(loss_mask, anchors, gamma)
    w = torch.where(sup, weights_k[None, :].expand_as(sup), torch.zeros((), dtype=torch.float32))
    if t2d is None:
        ce_ok = sup
    else:
        t_len = tokens.numel()
        pos = (anchors[:, None] + 1 + torch.arange(gamma)).clamp(max=t_len - 1)
        ce_ok = sup & t2d[tokens[pos]]
    return BlockPlan(anchors.long(), sup, w.float(), ce_ok)


def combine_denominators(plans: list[BlockPlan]) -> dict[str, float]:
    out = {"all": 0.0, "ce": 0.0, "blocks": 0.0, "slots": 0.0}
    for p in plans:
        for k, v in p.denominators().items():
            out[k] += v
    return out


@dataclass
class LossWeights:
    ce: float = 0.0
    l1: float = 0.0
    bce: float = 0.0
    soft_ce: float = 0.0
    greedy_ce: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {t: getattr(self, t) for t in TERMS}


def block_losses(draft_logits: torch.Tensor, target_logits: torch.Tensor, labels: torch.Tensor,
                 plan: BlockPlan, alphas: LossWeights, denominators: dict[str, float],
                 confidence_logits: torch.Tensor | None = None, scale: float = 1.0):
    """Loss of one sequence's blocks as its share of the global weighted means.

    draft_logits  [A, gamma, V'] fp32 (the drafted distribution's logits; Markov-corrected for DSpark)
    target_logits [M, V'] fp32 target logits at the M supervised slots (plan.supervised order)
    labels        [A, gamma] int64 label indices in the draft vocabulary (anything where not ce_ok)
    confidence_logits [A, gamma] fp32 or None
    denominators  global weight sums (`combine_denominators` over the global batch)
    scale         multiplies the returned loss (the number of processes under DDP, which averages)

    Returns (loss tensor, sums) where sums holds, per term, sum_k w_k * term (detached floats) and
    the prefix statistics for the metrics: acc_sum [gamma] (c*), greedy_sum [gamma] (argmax match)
    and acc_cnt [gamma]."""
    sup = plan.supervised
    w = plan.weights[sup].to(draft_logits.device)                 # [M]
    # rows by index, not by boolean mask: the same values, and a backward that copies rows
    # (index_add) instead of a boolean index_put (6x slower on CPU, 7 % of a training step)
    rows = torch.nonzero(sup.flatten()).flatten().to(draft_logits.device)
    d = draft_logits.reshape(-1, draft_logits.shape[-1]).index_select(0, rows)   # [M, V']
    logp_d = F.log_softmax(d.float(), dim=-1)
    p_d = logp_d.exp()
    with torch.no_grad():
        logp_t = F.log_softmax(target_logits.float(), dim=-1)
        p_t = logp_t.exp()
        greedy_t = logp_t.argmax(-1)                                 # [M] the target's greedy token
    l1 = (p_d - p_t).abs().sum(-1)                                  # [M]
    c_star = (1.0 - 0.5 * l1).detach().clamp(0.0, 1.0)
    den_all = max(denominators["all"], 1e-12)
    den_ce = max(denominators["ce"], 1e-12)
    terms: dict[str, torch.Tensor] = {}
    if alphas.l1:
        terms["l1"] = (w * l1).sum() / den_all
    if alphas.soft_ce:
        terms["soft_ce"] = (w * -(p_t * logp_d).sum(-1)).sum() / den_all
    if alphas.greedy_ce:
        nll = -logp_d.gather(-1, greedy_t[:, None]).squeeze(-1)
        terms["greedy_ce"] = (w * nll).sum() / den_all
    if alphas.ce:
        ce_ok = plan.ce_ok[sup].to(d.device)
        lab = labels.to(d.device)[sup.to(d.device)].clamp(min=0)
        nll = -logp_d.gather(-1, lab[:, None]).squeeze(-1)
        terms["ce"] = (w * torch.where(ce_ok, nll, torch.zeros_like(nll))).sum() / den_ce
    if alphas.bce:
        if confidence_logits is None:
            raise ValueError("bce needs confidence logits")
        conf = confidence_logits.reshape(-1).index_select(0, rows.to(confidence_logits.device)).float()
        bce = F.binary_cross_entropy_with_logits(conf, c_star, reduction="none")
        terms["bce"] = (w * bce).sum() / den_all
    loss = sum(getattr(alphas, t) * v for t, v in terms.items()) * scale
    sums = {t: float(v.detach()) * (den_ce if t == "ce" else den_all) for t, v in terms.items()}
    # prefix survival per block over the supervised prefix: prod_{i<=k} c*_i, and for greedy
    # decoding prod_{i<=k} [argmax p_d == argmax p_t]
    with torch.no_grad():
        supd = sup.to(c_star.device)
        for name, per_slot in (("acc_sum", c_star.float()), ("greedy_sum", (d.argmax(-1) == greedy_t).float())):
            full = torch.ones(sup.shape, dtype=torch.float32, device=c_star.device)
            full[supd] = per_slot
            sums[name] = (full.cumprod(dim=1) * supd).sum(0).cpu()
        sums["acc_cnt"] = supd.sum(0).float().cpu()
        sums["l1_mean_sum"] = float((w * l1.detach()).sum())
    return loss, sums


def greedy_walk(loss_mask: torch.Tensor, anchors: torch.Tensor, accepted: torch.Tensor) -> tuple[int, int]:
    """(tokens, rounds) of greedy decoding replayed over one sequence's answers (`walk_rounds`)."""
    tokens = rounds = 0
    for _, committed in walk_rounds(loss_mask, anchors, accepted):
        rounds += 1
        tokens += committed
    return tokens, rounds


def walk_rounds(loss_mask: torch.Tensor, anchors: torch.Tensor, accepted: torch.Tensor):
    """The rounds of greedy decoding replayed over one sequence's answers, as (anchor position, tokens
    committed). loss_mask [T]: the answer tokens (each contiguous run is one answer, decoded from its
    first token on, which the prompt's forward gives); anchors [A]: every position p with loss_mask[p]
    and loss_mask[p + 1]; accepted [A]: the leading argmax matches of the block at each anchor
    (0..gamma). A round at p commits L = accepted(p) drafts and the target's next token, unless the
    answer ends first (no token after its last, as no bonus follows an EOS)."""
    m = loss_mask.bool().flatten().tolist()
    at = dict(zip(anchors.tolist(), accepted.tolist()))
    p, n = 0, len(m)
    while p < n:
        if not m[p]:
            p += 1
            continue
        end = p
        while end + 1 < n and m[end + 1]:
            end += 1                      # this answer is p..end
        while p < end:
            k = min(at[p], end - p)
            yield p, k + (1 if p + k < end else 0)
            p += k + 1
        p = end + 1


def summarize(totals: dict, denominators: dict[str, float], alphas: LossWeights) -> dict[str, float]:
    """Global per-term means, the weighted total, accept_rate@k and simulated tau from summed
    `block_losses` statistics."""
    out: dict[str, float] = {}
    total = 0.0
    for t in TERMS:
        if getattr(alphas, t):
            den = denominators["ce"] if t == "ce" else denominators["all"]
            v = totals.get(t, 0.0) / den if den > 0 else 0.0
            out[f"loss_{t}"] = v
            total += getattr(alphas, t) * v
    out["loss"] = total
    if denominators["all"] > 0:
        out["l1_dist"] = totals.get("l1_mean_sum", 0.0) / denominators["all"]
    acc_cnt = totals.get("acc_cnt")
    for key, rate, tau_name in (("acc_sum", "accept_rate", "tau_sim"), ("greedy_sum", "greedy_accept", "tau_greedy")):
        acc_sum = totals.get(key)
        if acc_sum is None:
            continue
        tau = 1.0
        for k in range(acc_sum.numel()):
            if acc_cnt[k] > 0:
                a = float(acc_sum[k] / acc_cnt[k])
                out[f"{rate}@{k + 1}"] = a
                tau += a
        out[tau_name] = tau
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in out.items()}
