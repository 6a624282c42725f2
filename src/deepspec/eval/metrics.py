"""Acceptance metrics over verification rounds (METHOD.md sections 1 and 6).

Everything here is a pure function of a list of `RoundRecord`s, one per verification round of one
request, as the engine produces them during `deepspec eval`.

Conventions (one place, used everywhere):

* Positions are 1-indexed: draft slot j = 1 is the first token after the anchor.
* A round that ends on an accepted end-of-sequence draft token (`eos=True`) has no bonus token, and
  the draft slots after the EOS were never real attempts: for that round the *effective* number of
  proposed tokens is `accepted` (the slots past the EOS are censored, neither accepted nor rejected).
* tau (accepted length) per round = `accepted + 1` (bonus/replacement included), or `accepted` for an
  EOS round. `committed` is deliberately NOT used for tau: it may also be cut by max_tokens, which says
  nothing about the drafter. `committed` is what `tokens_per_second` counts (real output tokens).
* accept_rate[j] = #(accepted >= j) / #(effective proposed >= j)      (prefix survival, j = 1..n)
* conditional_acceptance[j] = #(accepted >= j) / #(accepted >= j-1 and effective proposed >= j):
  among rounds whose slots 1..j-1 were all accepted and slot j was verified, the fraction whose slot j
  was accepted (the paper's figure 2). When every round proposes the same number of tokens this equals
  accept_rate[j] / accept_rate[j-1] exactly (METHOD section 6); with a scheduler that verifies
  different lengths the direct count is the one that still means "accepted at j given 1..j-1".
* Lists indexed by position are plain lists whose element i is position i + 1; a position with no
  data is None (JSON null).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Sequence

import numpy as np


@dataclasses.dataclass
class RoundRecord:
    """One verification round of one request."""
    proposed: int                    # draft tokens verified this round
    accepted: int                    # how many of them were accepted (0..proposed)
    committed: int                   # tokens appended this round (accepted + 1, or accepted on EOS, or fewer at max_tokens)
    eos: bool = False                # the round ended on an accepted end-of-sequence draft token
    confidence_logits: list[float] | None = None  # raw confidence-head logits of the proposed slots
    drafted: int | None = None       # draft tokens the drafter produced (>= proposed); None -> proposed

    def __post_init__(self):
        self.proposed = int(self.proposed)
        self.accepted = int(self.accepted)
        self.committed = int(self.committed)
        self.eos = bool(self.eos)
        if self.drafted is None:
            self.drafted = self.proposed
        self.drafted = int(self.drafted)
        if self.confidence_logits is not None:
            self.confidence_logits = [float(x) for x in self.confidence_logits]
        if not 0 <= self.accepted <= self.proposed:
            raise ValueError(f"accepted={self.accepted} outside 0..proposed={self.proposed}")
        if self.drafted < self.proposed:
            raise ValueError(f"drafted={self.drafted} < proposed={self.proposed}")

    @property
    def effective_proposed(self) -> int:
        """Slots that were real verification attempts (slots after an accepted EOS are not)."""
        return self.accepted if self.eos else self.proposed

    @property
    def tau(self) -> int:
        """Accepted length of this round: accepted draft tokens + 1 bonus, no bonus after an EOS."""
        return self.accepted if self.eos else self.accepted + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RoundRecord":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"round record: unknown key(s) {', '.join(unknown)}")
        return cls(**data)


def load_records(paths: Iterable[str]) -> list[RoundRecord]:
    """Round records from JSONL files (one `RoundRecord.to_dict()` per line; blank lines skipped)."""
    import json
    out: list[RoundRecord] = []
    for path in paths:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(RoundRecord.from_dict(json.loads(line)))
                except (ValueError, TypeError) as e:
                    raise ValueError(f"{path}:{lineno}: {e}") from None
    return out


def write_records(records: Iterable[RoundRecord], path: str) -> str:
    """Write round records as JSONL (the format `load_records` and `deepspec calibrate` read)."""
    import json
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r.to_dict()) + "\n")
    return path


# ---------------------------------------------------------------------------------------- metrics

def tau(records: Sequence[RoundRecord]) -> float | None:
    """Mean accepted length per round, bonus included (an EOS round counts only its accepted)."""
    if not records:
        return None
    return sum(r.tau for r in records) / len(records)


def tau_by_block(records: Sequence[RoundRecord], gamma: int | None = None) -> list[float | None]:
    """tau_by_block[k-1] = the tau these rounds would have had if only their first k draft tokens
    had been verified, k = 1..gamma (figure 4's block-length axis without retraining).

    Exact for block drafters whose first k tokens do not depend on the block length (DFlash,
    DSpark: the backbone always sees the same mask inputs and the Markov head is causal) and for
    rounds that verified the whole block: slot j's verdict depends only on slots 1..j, so the
    accepted prefix of a k-token block is min(accepted, k), plus the bonus token unless the round
    ended on an accepted end of sequence within those k."""
    gamma = max_proposed(records) if gamma is None else gamma
    if not records:
        return [None] * gamma
    out = []
    for k in range(1, gamma + 1):
        total = sum(min(r.accepted, k) + (0 if r.eos and r.accepted <= k else 1) for r in records)
        out.append(total / len(records))
    return out


def max_proposed(records: Sequence[RoundRecord]) -> int:
    return max((r.proposed for r in records), default=0)


def accept_rate(records: Sequence[RoundRecord], gamma: int | None = None) -> list[float | None]:
    """accept_rate[j-1] = #(accepted >= j) / #(effective proposed >= j), j = 1..gamma."""
    gamma = max_proposed(records) if gamma is None else gamma
    acc = np.array([r.accepted for r in records], dtype=np.int64)
    prop = np.array([r.effective_proposed for r in records], dtype=np.int64)
    out: list[float | None] = []
    for j in range(1, gamma + 1):
        den = int((prop >= j).sum())
        out.append(float((acc >= j).sum()) / den if den else None)
    return out


def conditional_acceptance(records: Sequence[RoundRecord], gamma: int | None = None,
                           min_count: int = 1) -> list[float | None]:
    """P(slot j accepted | slots 1..j-1 accepted and slot j verified), j = 1..gamma (figure 2).
    None where fewer than `min_count` rounds reached slot j (a ratio of a handful is noise)."""
    gamma = max_proposed(records) if gamma is None else gamma
    acc = np.array([r.accepted for r in records], dtype=np.int64)
    prop = np.array([r.effective_proposed for r in records], dtype=np.int64)
    out: list[float | None] = []
    for j in range(1, gamma + 1):
        den = int(((acc >= j - 1) & (prop >= j)).sum())
        out.append(float((acc >= j).sum()) / den if den >= max(1, min_count) else None)
    return out


def conditional_from_accept_rate(rates: Sequence[float | None]) -> list[float | None]:
    """accept_rate[j] / accept_rate[j-1] with accept_rate[0] = 1 (METHOD section 6's formula)."""
    out: list[float | None] = []
    prev: float | None = 1.0
    for r in rates:
        out.append(None if r is None or not prev else r / prev)
        prev = r
    return out


def accepted_histogram(records: Sequence[RoundRecord], gamma: int | None = None) -> list[int]:
    """Counts of rounds by number of accepted draft tokens, index 0..gamma."""
    gamma = max_proposed(records) if gamma is None else gamma
    hist = [0] * (gamma + 1)
    for r in records:
        if r.accepted > gamma:
            raise ValueError(f"accepted={r.accepted} > gamma={gamma}")
        hist[r.accepted] += 1
    return hist


def draft_tokens_per_round(records: Sequence[RoundRecord]) -> float | None:
    """Mean number of draft tokens verified per round."""
    if not records:
        return None
    return sum(r.proposed for r in records) / len(records)


def drafted_tokens_per_round(records: Sequence[RoundRecord]) -> float | None:
    """Mean number of draft tokens the drafter produced per round (>= verified)."""
    if not records:
        return None
    return sum(r.drafted for r in records) / len(records)


def overall_acceptance(records: Sequence[RoundRecord]) -> float | None:
    """Accepted draft tokens / verified draft tokens (slots past an accepted EOS excluded)."""
    den = sum(r.effective_proposed for r in records)
    return sum(r.accepted for r in records) / den if den else None


def tokens_per_second(records: Sequence[RoundRecord], elapsed_s: float | None) -> float | None:
    """Committed (output) tokens per second of wall time; None without a time."""
    if elapsed_s is None or elapsed_s <= 0:
        return None
    return sum(r.committed for r in records) / elapsed_s


def summarize(records: Sequence[RoundRecord], elapsed_s: float | None = None,
              gamma: int | None = None) -> dict[str, Any]:
    """All acceptance metrics of one (drafter, dataset) pair, JSON-able."""
    records = list(records)
    gamma = max_proposed(records) if gamma is None else gamma
    hist = accepted_histogram(records, gamma)
    n = len(records)
    return {
        "rounds": n,
        "gamma": gamma,
        "tau": tau(records),
        "accept_rate": accept_rate(records, gamma),
        "tau_by_block": tau_by_block(records, gamma),
        "conditional_acceptance": conditional_acceptance(records, gamma),
        "accepted_histogram": hist,
        "accepted_distribution": [h / n for h in hist] if n else [None] * len(hist),
        "overall_acceptance": overall_acceptance(records),
        "draft_tokens_per_round": draft_tokens_per_round(records),
        "drafted_tokens_per_round": drafted_tokens_per_round(records),
        "committed_tokens": sum(r.committed for r in records),
        "eos_rounds": sum(1 for r in records if r.eos),
        "elapsed_s": elapsed_s,
        "tokens_per_second": tokens_per_second(records, elapsed_s),
    }


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else None


def _mean_lists(lists: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Element-wise mean; each position averages over the lists that have a value there."""
    n = max((len(x) for x in lists), default=0)
    return [_mean(x[i] for x in lists if i < len(x)) for i in range(n)]


MACRO_SCALARS = ("tau", "overall_acceptance", "draft_tokens_per_round", "drafted_tokens_per_round",
                 "tokens_per_second")
MACRO_LISTS = ("accept_rate", "conditional_acceptance", "accepted_distribution", "tau_by_block")


def macro(summaries: Sequence[dict[str, Any]] | dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Unweighted average over datasets of the scalar metrics and the per-position lists (each
    dataset counts once, whatever its number of rounds). Accepts a list or a {dataset: summary}."""
    if isinstance(summaries, dict):
        summaries = list(summaries.values())
    out: dict[str, Any] = {"datasets": len(summaries), "rounds": sum(s.get("rounds", 0) for s in summaries)}
    for key in MACRO_SCALARS:
        out[key] = _mean(s.get(key) for s in summaries)
    for key in MACRO_LISTS:
        out[key] = _mean_lists([s.get(key) or [] for s in summaries])
    return out


# ------------------------------------------------------------------------ calibration dataset

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def confidence_arrays(records: Sequence[RoundRecord], gamma: int | None = None):
    """Dense view of the rounds that carry confidence logits.

    Returns (logits [n, gamma] float64 with NaN where a slot was not verified, accepted [n] int,
    attempted [n] int = effective proposed slots that have a logit, capped at gamma)."""
    rows = [r for r in records if r.confidence_logits is not None]
    if gamma is None:
        gamma = max((min(r.effective_proposed, len(r.confidence_logits)) for r in rows), default=0)
    n = len(rows)
    logits = np.full((n, gamma), np.nan)
    acc = np.zeros(n, dtype=np.int64)
    att = np.zeros(n, dtype=np.int64)
    for i, r in enumerate(rows):
        m = min(r.effective_proposed, len(r.confidence_logits), gamma)
        logits[i, :m] = r.confidence_logits[:m]
        acc[i] = r.accepted
        att[i] = m
    return logits, acc, att


def prefix_survival_matrix(logits: np.ndarray, temperatures: Sequence[float] | None = None) -> np.ndarray:
    """a[:, j-1] = prod_{i<=j} sigmoid(logit_i / T_i); NaN where slot j was not verified."""
    logits = np.asarray(logits, dtype=np.float64)
    gamma = logits.shape[1]
    t = np.ones(gamma) if temperatures is None else np.asarray(list(temperatures)[:gamma] +
                                                                 [1.0] * max(0, gamma - len(temperatures)))
    return np.cumprod(_sigmoid(logits / t[None, :]), axis=1)


def calibration_dataset(records: Sequence[RoundRecord], temperatures: Sequence[float] | None = None,
                        gamma: int | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per position j (1-indexed): (predicted prefix survival a_j, realized survival 1[accepted >= j])
    over the rounds that verified slot j and carry confidence logits."""
    logits, acc, att = confidence_arrays(records, gamma)
    a = prefix_survival_matrix(logits, temperatures)
    out = {}
    for j in range(1, logits.shape[1] + 1):
        mask = att >= j
        out[j] = (a[mask, j - 1], (acc[mask] >= j).astype(np.float64))
    return out


def threshold_sweep(records: Sequence[RoundRecord], thresholds: Sequence[float],
                    temperatures: Sequence[float] | None = None, score: str = "conditional") -> dict[str, Any]:
    """Static confidence-threshold baseline (the paper's figure 5), replayed on recorded rounds.

    For each threshold t every round is truncated before its first slot whose score is below t
    (score "conditional": c_k = sigmoid(z_k / T_k); "prefix": a_k = prod_{i<=k} c_i). Acceptance inside
    the kept prefix is the recorded one (verification of slot k does not depend on later slots), so a
    round that keeps l slots accepts min(accepted, l) and wastes the rest. Counts are draft tokens only
    (no bonus). Only rounds with confidence logits take part.

    Returns lists over thresholds: "accepted_per_step", "rejected_per_step" (verified but not
    accepted), "verified_per_step", "acceptance_rate" (accepted / verified, None when nothing is
    verified), plus "thresholds" and "rounds"."""
    if score not in ("conditional", "prefix"):
        raise ValueError(f"score must be 'conditional' or 'prefix', not {score!r}")
    logits, acc, att = confidence_arrays(records)
    n, gamma = logits.shape
    t = np.ones(gamma) if temperatures is None else np.array(
        [temperatures[i] if i < len(temperatures) else 1.0 for i in range(gamma)], dtype=np.float64)
    c = _sigmoid(logits / t[None, :]) if gamma else logits
    s = np.cumprod(c, axis=1) if score == "prefix" else c
    valid = np.arange(1, gamma + 1)[None, :] <= att[:, None]
    out: dict[str, Any] = {"thresholds": [float(x) for x in thresholds], "rounds": n,
                           "accepted_per_step": [], "rejected_per_step": [], "verified_per_step": [],
                           "acceptance_rate": []}
    for thr in thresholds:
        below = valid & ~(s >= thr)                      # NaN never passes, but NaN rows are invalid
        first = np.where(below.any(axis=1), below.argmax(axis=1), gamma)
        kept = np.minimum(first, att)
        a = np.minimum(acc, kept)
        ver, acc_sum = int(kept.sum()), int(a.sum())
        out["accepted_per_step"].append(acc_sum / n if n else None)
        out["rejected_per_step"].append((ver - acc_sum) / n if n else None)
        out["verified_per_step"].append(ver / n if n else None)
        out["acceptance_rate"].append(acc_sum / ver if ver else None)
    return out
