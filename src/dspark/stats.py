"""Round statistics: the one definition of every acceptance number dspark and deepspec report.

`dspark generate`, the server's /metrics, `dspark bench` and `deepspec eval` all read what is
defined here: per request, the list of its `RoundRecord`s (`Sequence.rounds`); across requests, a
`RoundTotals` (the engine's running counters, which /metrics exposes and bench differences).

Definitions (positions are 1-indexed: draft slot j = 1 is the first token after the anchor):

* A round is one verification of one request: `proposed` draft tokens were verified (after the
  scheduler's cut; `drafted` >= proposed is what the drafter produced) and the first `accepted` of
  them were accepted.
* Bonus token: every round also commits one token sampled from the target (the replacement of the
  first rejected draft, or the token after an all-accepted block), EXCEPT a round that ends on an
  accepted end-of-sequence draft (`eos=True`): the output ends there and nothing follows.
* End of sequence: in an `eos` round the slots after the accepted EOS were never real attempts; the
  *effective* proposed count is `accepted` (those slots are censored, neither accepted nor rejected).
* tau (accepted length) = mean over rounds of `accepted + 1`, or `accepted` for an `eos` round.
  `committed` (tokens appended, possibly cut by max_tokens) is NOT used for tau: the cut says
  nothing about the drafter. `committed` is what tokens per second and tokens per step count.
* Acceptance per position (prefix survival) accept_rate[j] = #(accepted >= j) / #(effective
  proposed >= j).
* Conditional acceptance[j] = #(accepted >= j) / #(accepted >= j-1 and effective proposed >= j):
  among rounds whose slots 1..j-1 were all accepted and slot j was verified, the fraction whose slot
  j was accepted (the paper's figure 2). With a fixed block it equals accept_rate[j] / accept_rate[j-1].
* Overall acceptance = accepted draft tokens / effective proposed draft tokens.
* Verification budget = proposed draft tokens per request round (what the scheduler spent, EOS or
  not); tokens per step = committed tokens per verification forward (all requests of a step).
* Lists indexed by position are plain lists whose element i is position i + 1; a position with no
  data is None (JSON null).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Sequence


def source_label(source) -> str | None:
    """A proposal's source as records and reports name it: ("ngram", 3) -> "ngram:3"."""
    if source is None or isinstance(source, str):
        return source
    if isinstance(source, tuple):
        return ":".join(map(str, source))
    return str(source)


@dataclasses.dataclass
class RoundRecord:
    """One verification round of one request."""
    proposed: int                    # draft tokens verified this round
    accepted: int                    # how many of them were accepted (0..proposed)
    committed: int                   # tokens appended this round (accepted + 1, or accepted on EOS, or fewer at max_tokens)
    eos: bool = False                # the round ended on an accepted end-of-sequence draft token
    confidence_logits: list[float] | None = None  # raw confidence-head logits of the proposed slots
    drafted: int | None = None       # draft tokens the drafter produced (>= proposed); None -> proposed
    request: int | None = None       # the request's id (Sequence.id): a request's rounds, in order, share it
    source: str | None = None        # where the proposal came from when the drafter says (Proposal.source,
                                     # e.g. "ngram:3" for a lookup that matched 3 tokens); None = the drafter

    def __post_init__(self):
        self.proposed, self.accepted, self.committed = int(self.proposed), int(self.accepted), int(self.committed)
        self.eos = bool(self.eos)
        self.drafted = self.proposed if self.drafted is None else int(self.drafted)
        self.request = None if self.request is None else int(self.request)
        self.source = source_label(self.source)
        if self.confidence_logits is not None:
            # a tensor's values in one call: float() of each element cost ~30 us a round
            c = self.confidence_logits
            self.confidence_logits = c.tolist() if hasattr(c, "tolist") else [float(x) for x in c]
        if not 0 <= self.accepted <= self.proposed:
            raise ValueError(f"accepted={self.accepted} outside 0..proposed={self.proposed}")
        if self.drafted < self.proposed:
            raise ValueError(f"drafted={self.drafted} < proposed={self.proposed}")

    @property
    def effective_proposed(self) -> int:
        """Slots that were real verification attempts (slots after an accepted EOS are not)."""
        return self.accepted if self.eos else self.proposed

    @property
    def observed(self) -> int:
        """Slots whose conditional survival this round observed: slots 1..accepted survived and slot
        accepted + 1, if verified, did not; slots after the first rejection were never judged."""
        return min(self.effective_proposed, self.accepted + 1)

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


def survival_feedback(offsets: list[float], confidences: Sequence[float], record: RoundRecord,
                      rate: float) -> None:
    """Online calibration of one request's confidences, one step per verified round: in place,
    offsets[k-1] += rate * (1[slot k survived] - c_k) for the slots the round observed (`observed`),
    c_k being the confidence the slot was proposed with (offset included). It is a step of SGD on
    the log loss of each slot's survival in the logit's bias: a request whose drafts survive more
    (less) often than its confidences say raises (lowers) its later confidences. `offsets` grows
    with zeros as slots are first observed. The runtime (DSparkDrafter.verified) and the evaluation's
    replay of recorded rounds (deepspec.eval.metrics) both step with this function."""
    n = min(record.observed, len(confidences))
    if len(offsets) < n:
        offsets.extend([0.0] * (n - len(offsets)))
    for k in range(n):
        offsets[k] += rate * ((1.0 if record.accepted > k else 0.0) - float(confidences[k]))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclasses.dataclass
class RoundTotals:
    """Running sums over many rounds of many requests: what the engine keeps (`engine.stats`) and
    /metrics exposes. Every derived number is the same definition as the per-round functions below,
    so summing first and dividing last gives what `summarize` gives on the records themselves."""
    steps: int = 0                   # engine steps
    rounds: int = 0                  # steps that ran a verification forward
    request_rounds: int = 0          # rounds summed over requests (one RoundRecord each)
    eos_rounds: int = 0              # request rounds that ended on an accepted end of sequence
    drafted: int = 0                 # draft tokens verified (RoundRecord.proposed; the metric's name)
    accepted: int = 0                # draft tokens accepted
    committed: int = 0               # tokens appended
    proposed_per_position: list[int] = dataclasses.field(default_factory=list)   # effective, by position
    accepted_per_position: list[int] = dataclasses.field(default_factory=list)

    def add(self, r: RoundRecord) -> None:
        self.request_rounds += 1
        self.eos_rounds += r.eos
        self.drafted += r.proposed
        self.accepted += r.accepted
        self.committed += r.committed
        for j in range(r.effective_proposed):
            if j >= len(self.proposed_per_position):
                self.proposed_per_position.append(0)
                self.accepted_per_position.append(0)
            self.proposed_per_position[j] += 1
            self.accepted_per_position[j] += int(j < r.accepted)

    @property
    def verified_tokens(self) -> int:
        """Tokens in verification forwards: one anchor per request round plus its drafts."""
        return self.request_rounds + self.drafted

    @property
    def tau(self) -> float | None:
        return _ratio(self.accepted + self.request_rounds - self.eos_rounds, self.request_rounds)

    @property
    def verify_budget(self) -> float | None:
        return _ratio(self.drafted, self.request_rounds)

    @property
    def tokens_per_step(self) -> float | None:
        return _ratio(self.committed, self.rounds)

    @property
    def accept_rate(self) -> list[float | None]:
        return [_ratio(a, p) for a, p in zip(self.accepted_per_position, self.proposed_per_position)]

    def minus(self, before: "RoundTotals") -> "RoundTotals":
        """The rounds between two snapshots (bench differences the server's counters)."""
        n = len(self.proposed_per_position)
        pad = lambda xs: list(xs) + [0] * (n - len(xs))  # noqa: E731
        return RoundTotals(
            self.steps - before.steps, self.rounds - before.rounds, self.request_rounds - before.request_rounds,
            self.eos_rounds - before.eos_rounds, self.drafted - before.drafted, self.accepted - before.accepted,
            self.committed - before.committed,
            [a - b for a, b in zip(self.proposed_per_position, pad(before.proposed_per_position))],
            [a - b for a, b in zip(self.accepted_per_position, pad(before.accepted_per_position))])

    def summary(self) -> dict[str, Any]:
        return {"steps": self.steps, "rounds": self.request_rounds, "tau": self.tau,
                "accept_rate": self.accept_rate, "verify_budget": self.verify_budget,
                "tokens_per_step": self.tokens_per_step}


def totals(records: Iterable[RoundRecord]) -> RoundTotals:
    t = RoundTotals()
    for r in records:
        t.add(r)
    return t


# ---------------------------------------------------------------------------- per-round metrics

def max_proposed(records: Sequence[RoundRecord]) -> int:
    return max((r.proposed for r in records), default=0)


def tau(records: Sequence[RoundRecord]) -> float | None:
    """Mean accepted length per round, bonus included (an EOS round counts only its accepted)."""
    return _ratio(sum(r.tau for r in records), len(records))


def tau_by_block(records: Sequence[RoundRecord], gamma: int | None = None) -> list[float | None]:
    """tau_by_block[k-1] = the tau these rounds would have had if only their first k draft tokens
    had been verified, k = 1..gamma (figure 4's block-length axis without retraining).

    Exact for block drafters whose first k tokens do not depend on the block length (DFlash,
    DSpark: the backbone always sees the same mask inputs and the Markov head is causal) and for
    rounds that verified the whole block: slot j's verdict depends only on slots 1..j, so the
    accepted prefix of a k-token block is min(accepted, k), plus the bonus token unless the round
    ended on an accepted end of sequence within those k. That holds for greedy rounds and for the
    token rule; the block rule (verify.py) reads later drafts too, so its sampled rounds overstate
    a shorter block's tau here."""
    gamma = max_proposed(records) if gamma is None else gamma
    if not records:
        return [None] * gamma
    return [sum(min(r.accepted, k) + (0 if r.eos and r.accepted <= k else 1) for r in records) / len(records)
            for k in range(1, gamma + 1)]


def accept_rate(records: Sequence[RoundRecord], gamma: int | None = None) -> list[float | None]:
    """accept_rate[j-1] = #(accepted >= j) / #(effective proposed >= j), j = 1..gamma."""
    gamma = max_proposed(records) if gamma is None else gamma
    return [_ratio(sum(r.accepted >= j for r in records), sum(r.effective_proposed >= j for r in records))
            for j in range(1, gamma + 1)]


def conditional_acceptance(records: Sequence[RoundRecord], gamma: int | None = None,
                           min_count: int = 1) -> list[float | None]:
    """P(slot j accepted | slots 1..j-1 accepted and slot j verified), j = 1..gamma (figure 2).
    None where fewer than `min_count` rounds reached slot j (a ratio of a handful is noise)."""
    gamma = max_proposed(records) if gamma is None else gamma
    out: list[float | None] = []
    for j in range(1, gamma + 1):
        den = sum(r.accepted >= j - 1 and r.effective_proposed >= j for r in records)
        out.append(sum(r.accepted >= j for r in records) / den if den >= max(1, min_count) else None)
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


def overall_acceptance(records: Sequence[RoundRecord]) -> float | None:
    """Accepted draft tokens / verified draft tokens (slots past an accepted EOS excluded)."""
    return _ratio(sum(r.accepted for r in records), sum(r.effective_proposed for r in records))


def summarize(records: Sequence[RoundRecord], elapsed_s: float | None = None,
              gamma: int | None = None) -> dict[str, Any]:
    """All acceptance metrics of a set of rounds (one request, or one drafter on one dataset), JSON-able."""
    records = list(records)
    gamma = max_proposed(records) if gamma is None else gamma
    hist = accepted_histogram(records, gamma)
    n = len(records)
    committed = sum(r.committed for r in records)
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
        "draft_tokens_per_round": _ratio(sum(r.proposed for r in records), n),
        "drafted_tokens_per_round": _ratio(sum(r.drafted for r in records), n),
        "committed_tokens": committed,
        "eos_rounds": sum(1 for r in records if r.eos),
        "elapsed_s": elapsed_s,
        "tokens_per_second": committed / elapsed_s if elapsed_s and elapsed_s > 0 else None,
        **({"by_source": by_source(records)} if any(r.source for r in records) else {}),
    }


def by_source(records: Sequence[RoundRecord]) -> dict[str, dict[str, Any]]:
    """Rounds, their share, tau and drafts per round for each proposal source (rounds without one
    under "drafter"): how a combined drafter's parts (`ngram+dspark`) do, each on its own rounds."""
    groups: dict[str, list[RoundRecord]] = {}
    for r in records:
        groups.setdefault(r.source or "drafter", []).append(r)
    return {k: {"rounds": len(g), "share": len(g) / len(records), "tau": tau(g),
                "draft_tokens_per_round": _ratio(sum(r.proposed for r in g), len(g))}
            for k, g in sorted(groups.items())}


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are numbers (None and NaN are missing data)."""
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else None
