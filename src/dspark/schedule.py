"""Verification-length policies: how many of each request's drafts to verify this step.

Every policy returns lengths l_r <= caps[r] (caps hold the output budget and context room). The
choice may depend on the draft values only in the causal way METHOD section 4 describes, or the
output would no longer follow the target distribution:

  none          no speculation (plain decoding through the same loop)
  fixed         the whole block
  mtp1          one draft token (the MTP-1 production baseline's verification width)
  threshold     truncate at the first calibrated confidence below t (diagnostic baseline)
  dspark        Algorithm 1: admit (request, position) pairs in descending prefix survival
                a_{r,j} = prod_{i<=j} c_{r,i} while tau * SPS(B) improves, and STOP at the first
                pair that does not improve it. Whether x_k is verified then depends only on pairs
                ranked above it, none of which depend on x_k's value.
  dspark-async  the total budget K comes from confidences two steps old (a full search over a
                jagged SPS curve is safe there); this step verifies its K most confident prefix
                tokens (top-K in descending a_{r,j}, again never looking below x_k to decide x_k).

  auto          per drafter: dspark for every drafter that drafts, none without one; see
                resolve_policy

Requests whose drafter has no confidence head use the running prefix-survival rates of past
rounds as a_{r,j}, kept per proposal source (n-gram lookup: per match length, a property of the
context): they do not depend on the current drafts' values at all.

The two SPS policies also count what drafting costs, request by request: a request whose drafts were
not worth their share of the drafting and verification time skips drafting for a few steps (see
_CostAwarePolicy); `none` never drafts.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import DSparkError
from .files import write_text_atomic


@dataclass
class SPSTable:
    """Target steps per second as a function of the tokens in one forward, those tokens spread over
    up to max_seqs sequences. `one_sequence`, when profiled, is the same for forwards whose tokens
    all belong to one sequence: a batch-1 verification. Its rows share one context, so their
    attention reads the same keys: on the 2-core EPYC 8 rows of one sequence cost 1.50x one row,
    8 rows of 8 sequences 1.62x (RESULTS.md, session 16); priced by the spread curve a batch-1
    step would verify fewer drafts than pay."""
    tokens: list[int]
    steps_per_second: list[float]
    meta: dict | None = None
    one_sequence: "SPSTable | None" = None

    def __post_init__(self):
        if not self.tokens or len(self.tokens) != len(self.steps_per_second):
            raise DSparkError("SPS table needs matching, non-empty 'tokens' and 'steps_per_second'")
        order = sorted(range(len(self.tokens)), key=self.tokens.__getitem__)
        self.tokens = [int(self.tokens[i]) for i in order]
        self.steps_per_second = [float(self.steps_per_second[i]) for i in order]

    def __call__(self, b: int, sequences: int | None = None) -> float:
        """Steps per second of a forward of b tokens (over `sequences` sequences, when known): linear
        interpolation of step time; past the table, time grows at the last slope."""
        if sequences == 1 and self.one_sequence is not None:
            return self.one_sequence(b)
        ts, sec = self.tokens, [1.0 / s for s in self.steps_per_second]
        if b <= ts[0]:
            return 1.0 / sec[0]
        for i in range(1, len(ts)):
            if b <= ts[i]:
                w = (b - ts[i - 1]) / (ts[i] - ts[i - 1])
                return 1.0 / (sec[i - 1] + w * (sec[i] - sec[i - 1]))
        slope = (sec[-1] - sec[-2]) / (ts[-1] - ts[-2]) if len(ts) > 1 else sec[-1] / ts[-1]
        return 1.0 / (sec[-1] + max(slope, 0.0) * (b - ts[-1]))

    def to_json(self) -> dict:
        out = {"tokens": self.tokens, "steps_per_second": self.steps_per_second}
        if self.one_sequence is not None:
            out["one_sequence"] = {"tokens": self.one_sequence.tokens,
                                   "steps_per_second": self.one_sequence.steps_per_second}
        return {**out, **(self.meta or {})}

    def save(self, path: str | Path) -> None:
        write_text_atomic(path, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "SPSTable":
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DSparkError(f"cannot read SPS table {path}: {e}") from None
        if not isinstance(d, dict):
            raise DSparkError(f"cannot read SPS table {path}: not a JSON object")
        meta = {k: v for k, v in d.items() if k not in ("tokens", "steps_per_second", "one_sequence")}
        one = d.get("one_sequence")
        if one is not None and not isinstance(one, dict):
            raise DSparkError(f"SPS table {path}: 'one_sequence' must hold 'tokens' and 'steps_per_second'")
        one = cls(one.get("tokens", []), one.get("steps_per_second", [])) if one is not None else None
        return cls(d.get("tokens", []), d.get("steps_per_second", []), meta, one)

    @classmethod
    def flat(cls) -> "SPSTable":
        """A step costs the same whatever its size (for tests and when nothing was profiled)."""
        return cls([1, 1_000_000], [1.0, 1.0])

    @property
    def measured(self) -> bool:
        """Whether profile_sps measured this table (its meta holds the step times): a snapshot the
        SPS policies keep correcting while the engine runs (OnlineSPS). A table written by hand (the
        tests', a cost model) is used exactly as written."""
        return "ms_per_step" in (self.meta or {})


class OnlineSPS:
    """A profiled SPS table that follows the step times the engine measures: the SPS policies'
    table when it was profiled (SPSTable.measured).

    A profile is a snapshot of the target's forward alone. On the 2-core EPYC one taken an hour
    before priced an 8-row batch-1 verification at 2.41x a one-row step where decoding measured
    1.93x (RESULTS.md, session 38), so the policy verified fewer drafts than paid; the host's state
    moves multi-row costs by up to ~40 % between profiles minutes apart (session 37); a long context
    makes attention dearer than the profile's 256 tokens; and a step also costs the engine's
    bookkeeping, which the profile leaves out (a plain step at c = 2 took ~8.7 ms in serving where
    the table said ~6). The engine times each step besides its drafting (Policy.timed).
    Per curve (one sequence, spread), a step of b tokens is modelled as
        t(b) = T(1) (alpha + beta u(b)),   u(b) = (T(b) - T(1)) / T(1),
    T the table's step times: alpha scales the fixed cost of a step (reading the weights), beta what
    the further tokens add (compute), the table's shape kept in u. Both come from the measured steps
    by least squares weighted to the last ~WINDOW steps, with two weak ridges: alpha toward 1 (the
    table, before much is measured) and beta toward alpha (the table scaled, where the sizes measured
    say little about the slope: steps of one size only, or of sizes whose costs differ little). A
    measurement counts at most CLIP times off the current prediction (a stalled step says little
    about step sizes). Lossless as the table is: a step's choice reads only earlier steps' times."""
    WINDOW = 200
    PRIOR = 1.0     # each ridge's weight, in steps (u ~ 1)
    CLIP = 2.0

    def __init__(self, table: SPSTable):
        self.table = table
        # curve (True: the one-sequence curve) -> decayed sums [n, sum u, sum u^2, sum v, sum u v]
        self.sums: dict[bool, list[float]] = {}
        self.fits: dict[bool, tuple[float, float]] = {}   # curve -> (alpha, beta) of its sums

    def _curve(self, sequences: int | None) -> bool:
        return sequences == 1 and self.table.one_sequence is not None

    def _shape(self, b: int, one: bool) -> tuple[float, float]:
        """(T(1), u(b)) on the curve."""
        seqs = 1 if one else None
        t1 = 1.0 / self.table(1, seqs)
        return t1, (1.0 / self.table(b, seqs) - t1) / t1

    def coefficients(self, sequences: int | None = None) -> tuple[float, float]:
        """(alpha, beta) of the curve that prices steps of `sequences` sequences."""
        return self.fits.get(self._curve(sequences), (1.0, 1.0))

    def _fit(self, sums: list[float]) -> tuple[float, float]:
        """(alpha, beta) minimizing sum (alpha + beta u - v)^2 + p (alpha - 1)^2 + p (beta - alpha)^2."""
        n, su, suu, sv, suv = sums
        p = self.PRIOR
        a11, a12, a22, r1, r2 = n + 2 * p, su - p, suu + p, sv + p, suv
        det = a11 * a22 - a12 * a12
        alpha, beta = (r1 * a22 - a12 * r2) / det, (a11 * r2 - a12 * r1) / det
        return max(alpha, 0.2), max(beta, 0.05)     # a step never free, more tokens never cheaper

    def __call__(self, b: int, sequences: int | None = None) -> float:
        one = self._curve(sequences)
        if one not in self.fits:
            return self.table(b, sequences)
        t1, u = self._shape(b, one)
        alpha, beta = self.coefficients(sequences)
        return 1.0 / (t1 * (alpha + beta * u))

    def observe(self, tokens: int, sequences: int, seconds: float) -> None:
        """A step of `tokens` tokens over `sequences` sequences took `seconds`."""
        one = self._curve(sequences)
        t1, u = self._shape(tokens, one)
        alpha, beta = self.coefficients(sequences)
        predicted = alpha + beta * u
        v = min(max(seconds / t1, predicted / self.CLIP), predicted * self.CLIP)
        keep = 1.0 - 1.0 / self.WINDOW
        s = [x * keep for x in self.sums.get(one, [0.0] * 5)]
        self.sums[one] = [s[0] + 1.0, s[1] + u, s[2] + u * u, s[3] + v, s[4] + u * v]
        self.fits[one] = self._fit(self.sums[one])      # once here, not at each of a step's queries


class Policy:
    name = "fixed"
    uses_sps = False          # reads a profiled SPS table

    @classmethod
    def build(cls, gamma: int, sps: "SPSTable", threshold: float) -> "Policy":
        return cls()

    def choose(self, seqs, proposals, caps: list[int]) -> list[int]:
        return list(caps)

    def observe(self, seqs, proposals, verdicts) -> None:
        """The verdicts of the step just verified (for policies that learn from history)."""

    def forget(self, seq) -> None:
        """A request retired."""

    def drafts_for(self, seqs) -> list[bool]:
        """Which requests draft this step (the others decode one token). Decided before drafting,
        from past rounds only."""
        return [True] * len(seqs)

    def drafted(self, seqs, seconds: float) -> None:
        """Drafting for `seqs` (this step's requests that drafted) took `seconds`, and choose() has
        picked their lengths (for policies that weigh that cost)."""

    def timed(self, tokens: int, sequences: int, seconds: float) -> None:
        """This step, `tokens` rows over `sequences` requests, took `seconds` besides drafting (the
        target's forward, the verdicts, the engine's bookkeeping): for policies that price steps."""

    def draft_width(self, seq) -> int | None:
        """How many slots of its block `seq` drafts this step (at most gamma), or None: all of them.
        Decided before drafting, from past rounds only."""
        return None

    def draft_stop(self, seqs):
        """For this step's requests `seqs`: a rule survivals -> bool saying whether a request's
        next draft, with prefix survivals a_1..a_j so far, would still be verified this step, or
        None (whatever is drafted may be). Set on the requests for the drafting call
        (Sequence.draft_stop): a drafter that samples slot by slot stops at the first draft the
        rule refuses, one it would sample and the policy then drop."""
        return None

    def admit(self, seq, batch: int) -> bool:
        """A new request joins `batch` requests in all (itself included): False when it is not to
        draft at all, so the drafter never sees it (see _CostAwarePolicy)."""
        return True

    def detached(self, seq) -> bool:
        """True once `seq` drafts no more (drafts_for then always says so): the engine drops its
        drafter state and stops giving the drafter its rows and the target's taps."""
        return False


class NoSpeculation(Policy):
    name = "none"

    def choose(self, seqs, proposals, caps):
        return [0] * len(caps)

    def drafts_for(self, seqs):
        return [False] * len(seqs)


class MTP1(Policy):
    name = "mtp1"

    def choose(self, seqs, proposals, caps):
        return [min(1, c) for c in caps]


class _SurvivalPolicy(Policy):
    """Shared bookkeeping: per-position acceptance history (per proposal source), and a_{r,j} for
    the current drafts."""
    # Past rounds weigh less with every step (a window of ~HISTORY_STEPS steps): a source whose
    # rates fell so low that its drafts are no longer verified gets no new evidence, and without
    # forgetting it would stay shut for the engine's lifetime (a server whose requests turn from
    # chat to code); as its counts fade, its estimate rises back to the prior and it is tried again.
    HISTORY_STEPS = 1000

    def __init__(self, gamma: int):
        self.gamma = max(gamma, 1)
        # source -> (verified, accepted) per position, decayed counts of the past rounds whose
        # proposals came from that source (Proposal.source); survival adds a Laplace prior of 1 / 1
        self.by_source: dict = {}

    def _counts(self, source) -> tuple[list[float], list[float]]:
        if source not in self.by_source:
            self.by_source[source] = ([0.0] * self.gamma, [0.0] * self.gamma)
        return self.by_source[source]

    def observe(self, seqs, proposals, verdicts):
        keep = 1.0 - 1.0 / self.HISTORY_STEPS
        for proposed, accepted in self.by_source.values():
            for j in range(self.gamma):
                proposed[j] *= keep
                accepted[j] *= keep
        for p, v in zip(proposals, verdicts):
            if p.confidences is not None or not p.tokens:    # no history to keep (or none verified)
                continue
            proposed, accepted = self._counts(p.source)
            for j in range(min(len(p.tokens), self.gamma)):
                proposed[j] += 1
                accepted[j] += int(j < v.accepted)

    def survival(self, proposal, cap: int) -> list[float]:
        """a_j for j = 1..cap."""
        if cap == 0:
            return []
        if proposal.confidences is not None:
            c = proposal.confidences[:cap].double().clamp(0, 1)
            return torch.cumprod(c, 0).tolist()
        proposed, accepted = self._counts(proposal.source)
        rates = [min((1.0 + accepted[j]) / (1.0 + proposed[j]), 1.0) for j in range(min(cap, self.gamma))]
        return [min(rates[:j + 1]) for j in range(len(rates))]  # keep it non-increasing


class Threshold(_SurvivalPolicy):
    name = "threshold"

    @classmethod
    def build(cls, gamma, sps, threshold):
        return cls(gamma, threshold)

    def __init__(self, gamma: int, threshold: float = 0.5):
        super().__init__(gamma)
        self.threshold = threshold

    def choose(self, seqs, proposals, caps):
        out = []
        for p, cap in zip(proposals, caps):
            if p.confidences is None:
                out.append(cap)
                continue
            n = 0
            while n < cap and float(p.confidences[n]) >= self.threshold:
                n += 1
            out.append(n)
        return out


def _ranked(survivals: list[list[float]]) -> list[tuple[float, int, int]]:
    """(a, r, j) in descending a; ties keep position order so a prefix is always admitted first."""
    items = [(a, r, j) for r, s in enumerate(survivals) for j, a in enumerate(s, start=1)]
    items.sort(key=lambda t: (-t[0], t[2], t[1]))
    return items


def greedy_admission(survivals: list[list[float]], sps: SPSTable, early_stop: bool = True) -> list[int]:
    """Algorithm 1. With early_stop=False it keeps scanning and returns the best cut seen: that is
    the biased variant of the paper's appendix counterexample (kept for the test that shows it)."""
    r_count = len(survivals)
    lengths = [0] * r_count
    tau, b = float(r_count), r_count
    best = tau * sps(b, r_count)
    best_lengths = list(lengths)
    for a, r, j in _ranked(survivals):
        tau, b = tau + a, b + 1
        lengths[r] = j
        value = tau * sps(b, r_count)
        if value > best:
            best, best_lengths = value, list(lengths)
        elif early_stop:
            break
    return best_lengths


class _CostAwarePolicy(_SurvivalPolicy):
    """The SPS policies also weigh what drafting costs, per request. After each drafted step, a
    drafted request pays when the tokens it is expected to gain (the survival of the drafts chosen
    for it) are worth its share of the step's extra time, at the rate plain decoding of the same
    batch makes tokens (both from the SPS table, OnlineSPS when profiled): the drafting time split
    evenly over the requests that drafted, the extra verification time in proportion to its verified
    drafts. Worth and cost are summed over the request's judgments with weights falling by
    WORTH_DECAY a judgment: one round's expected gain swings with its drafts (0.2-2.6 tokens in
    consecutive chat rounds at c = 2), and judged round by round a request that paid on average
    kept pausing (RESULTS.md, session 38). A request's first drafts are not judged: their call also
    brings its whole prompt into the drafter's context (~150 ms for a SmolLM2 chat prompt against
    ~1 ms a round); the other requests in that call are judged by their share of recent calls
    without such a catch-up. A request that did not pay skips drafting for a stretch of steps that
    doubles while it keeps not paying (up to MAX_SKIP), then drafts again to check.

    In a batch of two or more, a request that has not paid DETACH_AFTER times in a row stops
    drafting for good: the drafter drops its state and no longer sees its rows. Even a paused request
    costs a drafter its observation (the context rows of every committed token) and the target its
    taps: at concurrency 16 on 2 cores, where drafting never pays, that and the checks cost 4-6 % of
    plain decoding's speed (RESULTS.md, session 27). Requests arriving after such a detachment, in a
    batch at least as large, start detached too, all but every REJUDGE_EVERY-th, which drafts to
    judge again, until a judged request pays. A lone request never detaches: at batch 1 a verified
    draft costs nearly nothing, and a stretch of bad drafts says little about the rest of the answer.

    A request whose drafts carry confidences (DSpark) drafts only WIDTH_HEADROOM slots more than the
    most the policy verified of its drafts over its last WIDTH_ROUNDS rounds (draft_width): on a CPU a
    block's slots each cost their rows in the draft layers and head (a batch-1 SmolLM2 round of 7
    slots 0.68 ms, of 3 slots 0.53), while the policy verified ~1.2 drafts a round (RESULTS.md,
    session 43). A request that takes every slot it drafted widens by WIDTH_HEADROOM slots a round.
    Greedy requests only: at T 0.7 (60 prompts) it gave DSpark alone +2 % and the default
    ngram+dspark -2 %, inside the +-2 % by which two identical variants differed there (a sampled
    request's tokens follow the policy's choices, which follow measured step times).

    Per request, because drafting costs per request drafted (a block of rows each) while one
    request's drafts may pay and another's not: at concurrency 4 on chat, drafting every request
    and verifying almost none of it ran 0.79-0.90x plain (RESULTS.md, session 17). A new request
    starts where the request judged last stands, since its first draft also catches up on its whole
    prompt's context rows (in that profile a drafting call averaged ~5 ms for ~1.1 requests,
    against ~2.2 ms for a steady batch-1 round). Lossless either way: a request that does not
    draft decodes one token."""
    MAX_SKIP = 64
    DETACH_AFTER = 3
    REJUDGE_EVERY = 8
    SKIP_FIRST = True
    WORTH_DECAY = 0.9
    WIDTH_ROUNDS = 4
    WIDTH_HEADROOM = 2
    uses_sps = True

    @classmethod
    def build(cls, gamma, sps, threshold):
        return cls(gamma, sps)

    def __init__(self, gamma: int, sps: SPSTable):
        super().__init__(gamma)
        self.sps = OnlineSPS(sps) if sps.measured else sps
        self.last: list[tuple[object, float, int]] = []   # the last choice: (request, E[accepted], verified)
        # request id -> [steps still to skip, next stretch, judgments in a row that did not pay]
        self.pause: dict[int, list[int]] = {}
        self.latest = [0, 1, 0]    # the pause of the request judged last: where a new request starts
        self.gone: set[int] = set()              # requests that draft no more (detached)
        self.detached_at: int | None = None      # the batch of the last detachment, until a judgment pays
        self.detached_starts = 0                 # requests started detached since one was let draft
        self.caught_up: set[int] = set()         # requests past their first drafting call
        self.draft_share: float | None = None    # drafting seconds per request, calls without a catch-up
        self.worth: dict[int, list[float]] = {}  # request id -> decayed [tokens' worth, cost] of its judgments
        self.widths: dict[int, deque[int]] = {}  # request id -> drafts verified in its last confident rounds

    def remember(self, seqs, proposals, survivals: list[list[float]], lengths: list[int]) -> list[int]:
        self.last = [(s, sum(a[:n]), n) for s, a, n in zip(seqs, survivals, lengths)]
        for s, p, n in zip(seqs, proposals, lengths):
            if s is not None and p.tokens and p.confidences is not None:   # (tools choose for no request)
                self.widths.setdefault(s.id, deque(maxlen=self.WIDTH_ROUNDS)).append(n)
        return lengths

    def draft_width(self, seq) -> int | None:
        recent = self.widths.get(seq.id)
        if not recent or not seq.params.greedy:
            return None
        return min(self.gamma, max(recent) + self.WIDTH_HEADROOM)

    def admit(self, seq, batch: int) -> bool:
        if self.detached_at is not None and batch >= self.detached_at:
            if self.detached_starts < self.REJUDGE_EVERY - 1:
                self.detached_starts += 1
                self.gone.add(seq.id)
                return False
            self.detached_starts = 0
            self.pause[seq.id] = [0, 1, 0]       # judged afresh
        return True

    def detached(self, seq) -> bool:
        return seq.id in self.gone

    def drafts_for(self, seqs) -> list[bool]:
        out = []
        for s in seqs:
            if s.id in self.gone:
                out.append(False)
                continue
            p = self.pause.setdefault(s.id, list(self.latest))
            if p[0] > 0:
                p[0] -= 1
                out.append(False)
            else:
                out.append(True)
        return out

    def drafted(self, seqs, seconds: float) -> None:
        share = seconds / len(seqs)
        fresh = {s.id for s in seqs if s.id not in self.caught_up} if self.SKIP_FIRST else set()
        self.caught_up.update(s.id for s in seqs)
        if fresh:
            # the call caught up on prompts (see the class docstring): the fresh requests are not
            # judged, the others by their share of calls without a catch-up
            if self.draft_share is None:
                return
            share = self.draft_share
        else:
            self.draft_share = share if self.draft_share is None else 0.8 * self.draft_share + 0.2 * share
        b, verified = len(self.last), sum(n for _, _, n in self.last)   # this step's requests
        plain_step = 1.0 / self.sps(b, b)
        extra_verify = 1.0 / self.sps(b + verified, b) - plain_step
        drafted = {id(s) for s in seqs if s.id not in fresh}
        for s, gain, n in self.last:
            if id(s) not in drafted:
                continue
            cost = share + extra_verify * n / max(verified, 1)
            p = self.pause.setdefault(s.id, [0, 1, 0])
            w = self.worth.setdefault(s.id, [0.0, 0.0])
            w[0] = self.WORTH_DECAY * w[0] + gain * plain_step
            w[1] = self.WORTH_DECAY * w[1] + b * cost
            if w[0] >= w[1]:      # its tokens per second >= plain decoding's, over its last judgments
                p[1], p[2] = 1, 0
                self.detached_at = None
            else:
                p[0], p[1], p[2] = p[1], min(2 * p[1], self.MAX_SKIP), p[2] + 1
                if b > 1 and p[2] >= self.DETACH_AFTER:
                    self.gone.add(s.id)
                    self.detached_at, self.detached_starts = b, 0
            self.latest = [0, 1, 0] if s.id in self.gone else list(p)

    def timed(self, tokens, sequences, seconds):
        if isinstance(self.sps, OnlineSPS):
            self.sps.observe(tokens, sequences, seconds)

    def forget(self, seq) -> None:
        self.pause.pop(seq.id, None)
        self.gone.discard(seq.id)
        self.caught_up.discard(seq.id)
        self.worth.pop(seq.id, None)
        self.widths.pop(seq.id, None)


class DSparkPolicy(_CostAwarePolicy):
    name = "dspark"

    def __init__(self, gamma: int, sps: SPSTable, early_stop: bool = True):
        super().__init__(gamma, sps)
        self.early_stop = early_stop

    def choose(self, seqs, proposals, caps):
        survivals = [self.survival(p, c) for p, c in zip(proposals, caps)]
        return self.remember(seqs, proposals, survivals, greedy_admission(survivals, self.sps, self.early_stop))

    def draft_stop(self, seqs):
        """At batch 1 (BatchOneAdmission): a sampled DSpark round at T 0.7 drafted 7 and verified 2.2
        on average (RESULTS.md, session 37)."""
        if len(seqs) != 1 or not self.early_stop:
            return None
        return BatchOneAdmission(self.sps)


@dataclass
class BatchOneAdmission:
    """The dspark policy's stop rule at batch 1 (Policy.draft_stop): greedy admission verifies draft
    j exactly when it verified every draft before it and (tau + a_j) SPS(j + 1) > tau SPS(j), tau =
    1 + a_1 + ... + a_{j-1} (summed in that order, as greedy_admission does), so the drafts after
    the first it refuses are never verified. A C loop applies the same rule to the table's values
    (`steps_per_second`)."""
    sps: "SPSTable | OnlineSPS"

    def __call__(self, survivals: list[float]) -> bool:
        j, tau = len(survivals), 1.0
        for a in survivals[:-1]:
            tau = tau + a
        return (tau + survivals[-1]) * self.sps(j + 1, 1) > tau * self.sps(j, 1)

    def steps_per_second(self, n: int) -> list[float]:
        """SPS(1), ..., SPS(n) of one sequence's forwards."""
        return [self.sps(j, 1) for j in range(1, n + 1)]


class DSparkAsync(_CostAwarePolicy):
    name = "dspark-async"

    def __init__(self, gamma: int, sps: SPSTable, lag: int = 2):
        super().__init__(gamma, sps)
        self.history: deque[tuple[int, list[float]]] = deque(maxlen=lag)

    def capacity(self) -> int | None:
        """Tokens to verify beyond the anchors, from the oldest snapshot: a global search."""
        if len(self.history) < self.history.maxlen:
            return None
        r_count, survivals = self.history[0]
        tau, best, best_k = float(r_count), r_count * self.sps(r_count, r_count), 0
        for k, a in enumerate(sorted(survivals, reverse=True), start=1):
            tau += a
            value = tau * self.sps(r_count + k, r_count)
            if value > best:
                best, best_k = value, k
        return best_k

    def choose(self, seqs, proposals, caps):
        survivals = [self.survival(p, c) for p, c in zip(proposals, caps)]
        k = self.capacity()
        self.history.append((len(caps), [a for s in survivals for a in s]))
        if k is None:   # warm-up: nothing old enough yet, verify one token each
            return self.remember(seqs, proposals, survivals, [min(1, c) for c in caps])
        lengths = [0] * len(caps)
        for _, r, j in _ranked(survivals)[:k]:
            lengths[r] = j
        return self.remember(seqs, proposals, survivals, lengths)


# The registry: the CLI's choices, the servers' checks and make_policy all read it.
POLICIES: dict[str, type[Policy]] = {c.name: c for c in (NoSpeculation, Policy, MTP1, Threshold, DSparkPolicy,
                                                          DSparkAsync)}
SPS_POLICIES = tuple(n for n, c in POLICIES.items() if c.uses_sps)   # the policies that read an SPS table


# `auto` is not a policy of its own but a choice per drafter: plain decoding without one, the
# hardware-aware policy for every drafter that drafts. A DSpark drafter's drafts are ranked by their
# calibrated confidences, any other's by the running acceptance of past rounds from the same source
# (n-gram lookup: per match length). At batch 1 on the 2-core CPUs (RESULTS.md, sessions 13-14) it
# matched or beat the whole block for every drafter measured: a 2-layer DSpark 0.97x plain against
# 0.86x; n-gram lookup 1.20-1.30x against 1.16-1.21x on the EPYC (1.16x / 1.15x on the Xeon with
# one shared history).
AUTO = "auto"


def policy_names(auto: bool = False) -> list[str]:
    """The names a command accepts: the registry's, plus `auto` where the command resolves it."""
    return [*POLICIES, AUTO] if auto else list(POLICIES)


def check_policy(name: str, auto: bool = False) -> str:
    if name not in policy_names(auto):
        raise DSparkError(f"unknown policy {name!r}; choose one of {', '.join(policy_names(auto))}")
    return name


def resolve_policy(name: str, drafter) -> str:
    """The policy `name` means for `drafter` (only `auto` depends on the drafter)."""
    if check_policy(name, auto=True) != AUTO:
        return name
    return "none" if getattr(drafter, "gamma", 0) == 0 else "dspark"


def make_policy(name: str, drafter=None, sps_table: SPSTable | None = None, threshold: float = 0.5) -> Policy:
    gamma = getattr(drafter, "gamma", 0) or 1
    return POLICIES[resolve_policy(name, drafter)].build(gamma, sps_table or SPSTable.flat(), threshold)
