"""Lossless: speculative output equals plain greedy decoding token for token, and at temperature 1
(with and without top-p) its distribution is the target's, for every drafter and every policy."""
from __future__ import annotations

import collections
import itertools
import math
import random

import pytest
import torch

from dspark.drafters.base import Drafter, Proposal
from dspark.drafters.ngram import LookupFirst, NgramDrafter
from dspark.errors import DSparkError
from dspark.sampling import SamplingParams
from dspark.schedule import POLICIES, DSparkPolicy, SPSTable
from dspark.verify import block_acceptance, residual, verify, verify_one

from conftest import tiny_model
from lossless import (OracleDrafter, TableDrafter, chi_square_pvalue, exact_joint, greedy_reference,
                      random_trained_drafter, run_engine, sample_continuations, scan_lookup)

pytestmark = pytest.mark.gpu      # device-independent: DSPARK_TEST_DEVICE=cuda runs it there


def prompts(n=10, vocab=96):
    g = torch.Generator().manual_seed(7)
    out = []
    for i in range(n):
        motif = torch.randint(3, vocab, (3 + i % 4,), generator=g).tolist()
        out.append(motif * (2 + i % 3) + torch.randint(3, vocab, (i % 5,), generator=g).tolist())
    return out


TRAINED = {
    "dspark": lambda m: random_trained_drafter("dspark", m, markov_rank=8),
    "dspark-rnn": lambda m: random_trained_drafter("dspark", m, markov_rank=8, markov_head_type="rnn"),
    "dflash": lambda m: random_trained_drafter("dflash", m),
    "eagle3": lambda m: random_trained_drafter("eagle3", m),
    "mtp": lambda m: random_trained_drafter("mtp", m, gamma=1),
}
GREEDY_DRAFTERS = {
    "none": lambda m: Drafter(),
    "ngram": lambda m: NgramDrafter(gamma=4, max_ngram=3),
    "ngram+dspark": lambda m: LookupFirst(TRAINED["dspark"](m)),
    "table": lambda m: TableDrafter(m.cfg.vocab_size, gamma=3),
    "oracle": lambda m: OracleDrafter(m),
    **TRAINED,
}


@pytest.mark.parametrize("name", list(GREEDY_DRAFTERS))
def test_greedy_identity_every_drafter(name):
    model = tiny_model("llama")
    ps = prompts()
    want = [greedy_reference(model, p, 20) for p in ps]
    got, engine = run_engine(model, GREEDY_DRAFTERS[name](model), ps, [SamplingParams()] * len(ps), 20,
                             max_batch=4, stagger=True)
    assert got == want
    if name == "oracle":   # the test must have exercised multi-token acceptance
        assert engine.stats.accepted > engine.stats.rounds


# A non-flat SPS curve so that dspark / dspark-async actually cut blocks; steps with one request
# read the flatter one-sequence curve (the staggered runs below have both kinds of step).
SPS = SPSTable([1, 2, 4, 8, 16, 32], [10.0, 9.0, 8.0, 5.0, 2.5, 1.2],
               one_sequence=SPSTable([1, 2, 4, 8], [10.0, 9.8, 9.0, 7.0]))


def test_one_sequence_curve_prices_batch_1_steps(tmp_path):
    """A step of one request is priced by the one-sequence curve, a step of several by the spread
    one; the table round-trips through its JSON file, and a table without the curve (an older
    profile) prices every step by the spread curve."""
    from dspark.schedule import greedy_admission
    assert SPS(8, 1) == 7.0 and SPS(8, 2) == SPS(8) == 5.0 and SPS(3, 1) == pytest.approx(1 / (0.5 / 9.8 + 0.5 / 9.0))
    survivals = [[0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1]]
    # one request: 6 rows cost 1.27x one row on the one-sequence curve and 1.6x on the spread one,
    # so the admission goes two drafts further when it knows the step holds one sequence
    assert greedy_admission(survivals, SPS) == [5]
    spread_only = SPSTable(SPS.tokens, SPS.steps_per_second)
    assert greedy_admission(survivals, spread_only) == [3]
    SPS.save(tmp_path / "sps.json")
    back = SPSTable.load(tmp_path / "sps.json")
    assert back.one_sequence.tokens == [1, 2, 4, 8] and back(8, 1) == 7.0 and back(8, 2) == 5.0
    spread_only.save(tmp_path / "old.json")
    assert SPSTable.load(tmp_path / "old.json").one_sequence is None


def test_draft_stop_refuses_what_the_admission_would_not_verify():
    """The dspark policy's stop rule for slot-by-slot drafting (Policy.draft_stop): at batch 1 the
    first draft it refuses is the first that greedy admission leaves out, for survivals that fall
    slowly, fast, or not at all; with two requests in the step there is no rule."""
    from dspark.schedule import DSparkPolicy, greedy_admission
    policy = DSparkPolicy(7, SPS)
    rule = policy.draft_stop(["one request"])
    gen = torch.Generator().manual_seed(0)
    for case in range(200):
        c = torch.rand(7, generator=gen, dtype=torch.float64) ** (0.2 + 3 * torch.rand((), generator=gen).item())
        a = torch.cumprod(c, 0).tolist()
        admitted = next((j for j in range(1, 8) if not rule(a[:j])), 8) - 1
        assert admitted == greedy_admission([a], SPS)[0], (case, a)
    assert policy.draft_stop(["one", "two"]) is None
    assert DSparkPolicy(7, SPS, early_stop=False).draft_stop(["one"]) is None


# SPS as profile_sps writes it: a measurement (meta holds the step times), which the SPS policies
# keep correcting from the steps they time (OnlineSPS)
PROFILED = SPSTable(SPS.tokens, SPS.steps_per_second, {"ms_per_step": [1e3 / s for s in SPS.steps_per_second]},
                    one_sequence=SPS.one_sequence)


def test_a_profiled_table_follows_the_measured_steps():
    """The SPS policies price steps by a profiled table corrected by the steps the engine times:
    before any step it is the table; after steps of one size it is the table scaled; after steps
    of several sizes that follow t(b) = T(1) (0.7 + 0.5 u(b)) it predicts that curve at sizes
    measured and not (the other curve untouched); a stalled step moves it little; with multi-row
    steps cheaper than profiled, the admission verifies more. A table written by hand is used as
    written."""
    from dspark.schedule import OnlineSPS, greedy_admission
    assert DSparkPolicy(4, SPS).sps is SPS
    online = DSparkPolicy(4, PROFILED).sps
    assert isinstance(online, OnlineSPS)
    assert all(online(b, n) == PROFILED(b, n) for b in (1, 3, 8, 20) for n in (1, 2, None))

    def truth(b):
        t1 = 1.0 / SPS(1, 1)
        return t1 * (0.7 + 0.5 * (1.0 / SPS(b, 1) - t1) / t1)
    for _ in range(100):
        online.observe(1, 1, 0.8 / SPS(1, 1))           # one-row steps only: 0.8x the table
    for b in (1, 4, 8, 16):
        assert online(b, 1) == pytest.approx(PROFILED(b, 1) / 0.8, rel=0.01), b
    for step in range(300):
        b = (1, 2, 4, 8)[step % 4]
        online.observe(b, 1, truth(b))
    alpha, beta = online.coefficients(1)
    assert alpha == pytest.approx(0.7, abs=0.03) and beta == pytest.approx(0.5, abs=0.06)
    for b in (1, 3, 6, 8, 12):                           # 3, 6 and 12 were never measured
        assert 1.0 / online(b, 1) == pytest.approx(truth(b), rel=0.03), b
    assert online(8, 2) == PROFILED(8, 2) and online.coefficients(2) == (1.0, 1.0)
    before = online(4, 1)
    online.observe(4, 1, 100 * truth(4))                 # a stall
    assert online(4, 1) > 0.98 * before
    survivals = [[0.8 * 0.7 ** j for j in range(7)]]
    assert greedy_admission(survivals, online) == [5] and greedy_admission(survivals, PROFILED) == [4]


def test_the_engine_times_its_steps_for_a_profiled_table():
    """Decoding through the engine feeds every verification's time to the profiled table (one
    sequence: its curve) and stays identical to plain greedy decoding."""
    from dspark.schedule import OnlineSPS
    model = tiny_model("llama", seed=3)
    ps = prompts(2)
    got, engine = run_engine(model, OracleDrafter(model), ps, [SamplingParams()] * 2, 16, policy="dspark",
                             max_batch=1, sps=PROFILED)
    assert got == [greedy_reference(model, p, 16) for p in ps]
    sps = engine.policy.sps
    assert isinstance(sps, OnlineSPS) and sps.sums[True][0] > 0.5 * engine.stats.rounds
    assert False not in sps.sums                         # no step of several sequences


def test_sampled_distribution_with_a_table_that_follows_the_steps(monkeypatch):
    """The dspark policy on a profiled table that the measured step times correct as it goes (one
    request at a time, the stop rule reading the corrected curve): still the target's distribution."""
    from dspark.schedule import OnlineSPS
    model = tiny_model("llama", vocab=8, seed=5, dtype=torch.float64)
    seen, real = [], OnlineSPS.observe
    monkeypatch.setattr(OnlineSPS, "observe", lambda self, *a: seen.append(a) or real(self, *a))
    exact = exact_joint(model, [3, 4, 5], SAMPLING["t1"], 2)
    samples = sample_continuations(model, SAMPLE_DRAFTERS["dspark"](model), [3, 4, 5], SAMPLING["t1"], 3000, 2,
                                   policy="dspark", sps=PROFILED, slots=1)
    assert len(seen) >= 3000
    assert chi_square_pvalue(samples, exact) > 1e-3


@pytest.mark.parametrize("policy", POLICIES)
def test_greedy_identity_every_policy(policy):
    model = tiny_model("gemma3", seed=3)
    ps = prompts(8)
    want = [greedy_reference(model, p, 16) for p in ps]
    got, _ = run_engine(model, OracleDrafter(model), ps, [SamplingParams()] * len(ps), 16, policy=policy,
                        max_batch=5, stagger=True, sps=SPS)
    assert got == want


class CountingOracle(OracleDrafter):
    """Counts its calls and the rounds it drafted per request id; with `good` (prompts), the
    confidences say the drafts of the requests with those prompts survive and nobody else's do."""
    def __init__(self, model, good: set[tuple[int, ...]] | None = None):
        super().__init__(model)
        self.calls, self.drafted, self.seqs, self.good = 0, {}, {}, good

    def propose(self, seqs):
        self.calls += 1
        out = super().propose(seqs)
        for s, p in zip(seqs, out):
            self.drafted[s.id] = self.drafted.get(s.id, 0) + 1
            self.seqs[s.id] = s
            if self.good is not None:    # sure of the good requests' drafts, of no one else's
                sure = tuple(s.tokens[:s.prompt_len]) in self.good
                p.confidences = torch.full_like(p.confidences, 0.99 if sure else 0.01)
        return out


@pytest.mark.parametrize("policy", ["dspark", "dspark-async"])
def test_sps_policies_skip_drafting_that_does_not_pay(policy):
    """Where a target step takes a microsecond, no drafting time pays for itself: the SPS policies
    stop drafting for growing stretches (plain decoding steps, still lossless). Where steps are
    slow, the same drafter drafts at nearly every step."""
    model = tiny_model("llama", seed=3)
    ps = prompts(4)
    want = [greedy_reference(model, p, 24) for p in ps]
    # Step times far from any real drafting time either way, so the outcome does not depend on
    # how fast this machine drafts: a microsecond, and the shape of SPS at ~100-800 s.
    slow = SPSTable(SPS.tokens, [s * 1e-3 for s in SPS.steps_per_second])
    for sps, drafts_most in ((SPSTable([1, 64], [1e6, 1e6]), False), (slow, True)):
        drafter = CountingOracle(model)
        got, engine = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 24, policy=policy,
                                 max_batch=4, sps=sps)
        assert got == want
        drafted = sum(drafter.drafted.values())
        if drafts_most:
            assert drafted >= 0.8 * engine.stats.request_rounds
        else:
            assert drafted <= engine.stats.request_rounds / 3


def test_dspark_policy_pauses_drafting_per_request():
    """Drafting is paused request by request: in one batch, the requests whose drafts the policy
    verifies (confident, and the steps slow enough to pay for drafting) draft nearly every step,
    while those whose drafts it never verifies (confidence 0.01) draft rarely. Output unchanged."""
    model = tiny_model("llama", seed=3)
    ps = prompts(4)
    want = [greedy_reference(model, p, 48) for p in ps]
    slow = SPSTable(SPS.tokens, [s * 1e-3 for s in SPS.steps_per_second])
    drafter = CountingOracle(model, good={tuple(ps[0]), tuple(ps[2])})
    got, engine = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 48, policy="dspark",
                             max_batch=4, sps=slow)
    assert got == want
    ids = sorted(drafter.seqs)                # request ids, in the order the prompts were added
    share = {i: drafter.drafted[ids[i]] / len(drafter.seqs[ids[i]].rounds) for i in range(4)}   # of its rounds
    assert min(share[0], share[2]) >= 0.8 and max(share[1], share[3]) <= 0.3, share


class WidthWatching(CountingOracle):
    """Records, per drafting call and request, the draft width the engine passed and how many drafts
    the policy had verified in each of the request's earlier drafted rounds."""
    def __init__(self, model, good=None):
        super().__init__(model, good)
        self.widths = []

    def propose(self, seqs):
        for s in seqs:
            self.widths.append((s.draft_width, [r.proposed for r in s.rounds if r.drafted]))
        return super().propose(seqs)


def test_dspark_policy_narrows_the_block_to_what_it_verifies():
    """A greedy request with confident drafts drafts WIDTH_HEADROOM slots more than the most the
    dspark policy verified of its last WIDTH_ROUNDS drafted rounds (its whole block before its
    first): the requests whose drafts it always verifies keep the whole block, those it never
    verifies draft WIDTH_HEADROOM slots. Output unchanged; retired requests leave nothing behind;
    sampled requests keep the whole block."""
    model = tiny_model("llama", seed=3)
    ps = prompts(4)
    want = [greedy_reference(model, p, 32) for p in ps]
    slow = SPSTable(SPS.tokens, [s * 1e-3 for s in SPS.steps_per_second])
    drafter = WidthWatching(model, good={tuple(ps[0]), tuple(ps[2])})
    got, engine = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 32, policy="dspark",
                             max_batch=4, sps=slow)
    assert got == want
    P = DSparkPolicy
    for width, verified in drafter.widths:
        recent = verified[-P.WIDTH_ROUNDS:]
        assert width == (min(drafter.gamma, max(recent) + P.WIDTH_HEADROOM) if recent else None), (width, verified)
    widths = {w for w, _ in drafter.widths}
    assert {None, P.WIDTH_HEADROOM, drafter.gamma} <= widths, widths
    assert not engine.policy.widths
    sampled = WidthWatching(model, good={tuple(ps[0])})           # sampled requests keep the whole block
    run_engine(model, sampled, ps[:2], [SamplingParams(temperature=0.7, seed=i) for i in range(2)], 16,
               policy="dspark", max_batch=2, sps=slow)
    assert sampled.widths and all(w is None for w, _ in sampled.widths)


class Watching(CountingOracle):
    """Records which requests the engine starts, gives rows to and finishes, in order."""
    def __init__(self, model):
        super().__init__(model)
        self.events = []

    def start(self, seq):
        self.events.append(("start", seq.id))
        super().start(seq)

    def observe(self, seq, taps, hidden):
        self.events.append(("observe", seq.id))
        super().observe(seq, taps, hidden)

    def finish(self, seq):
        self.events.append(("finish", seq.id))
        super().finish(seq)


def test_requests_whose_drafts_never_pay_stop_drafting():
    """Where drafting never pays (a step takes a microsecond), a request in a batch that has not paid
    DETACH_AFTER times in a row drafts no more: its drafter state goes and the drafter gets none of
    its rows after that. Requests arriving next start without drafting, the drafter never sees
    them, all but every REJUDGE_EVERY-th. Alone in the engine a request never detaches. Output
    stays plain greedy either way."""
    model = tiny_model("llama", seed=3)
    never = SPSTable([1, 64], [1e6, 1e6])
    ps = prompts(24)
    drafter = Watching(model)
    got, engine = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 40, policy="dspark",
                             max_batch=4, sps=never)
    assert got == [greedy_reference(model, p, 40) for p in ps]
    started = [i for kind, i in drafter.events if kind == "start"]
    assert 4 < len(started) <= 4 + len(ps) // DSparkPolicy.REJUDGE_EVERY + 1      # the first batch, re-judges
    observed = {i: [n for n, (kind, j) in enumerate(drafter.events) if kind == "observe" and j == i] for i in started}
    finished = {i: min(n for n, (kind, j) in enumerate(drafter.events) if kind == "finish" and j == i) for i in started}
    assert all(max(observed[i]) < finished[i] for i in started)        # nothing after its state went
    assert all(len(observed[i]) < 20 for i in started[:4])             # detached well before its 40 tokens
    assert max(drafter.drafted.values()) <= DSparkPolicy.DETACH_AFTER + 1          # + the unjudged catch-up
    policy = engine.policy                                            # retired requests leave nothing
    assert not (policy.gone or policy.pause or policy.worth or policy.caught_up)

    alone = Watching(model)
    got, engine = run_engine(model, alone, ps[:4], [SamplingParams()] * 4, 40, policy="dspark", max_batch=1, sps=never)
    assert got == [greedy_reference(model, p, 40) for p in ps[:4]]
    assert sum(kind == "start" for kind, _ in alone.events) == 4
    # every round of every request reached the drafter (and each prompt's one prefill chunk)
    assert sum(kind == "observe" for kind, _ in alone.events) == engine.stats.request_rounds + 4
    assert 4 < sum(alone.drafted.values()) < engine.stats.request_rounds / 4   # paused, never detached


def test_ngram_index_finds_what_the_scan_finds():
    """NgramDrafter.lookup_request (an index of the request's n-grams, grown with its tokens) gives
    scan_lookup's answer (a scan of the whole context) at every step of growing token lists with many
    repeats, for several n-gram ranges; a token list replaced under the same request id, or cut
    short, is indexed afresh; finish drops the index."""
    from types import SimpleNamespace
    gen = random.Random(0)
    for min_n, max_n, gamma in ((1, 4, 7), (2, 4, 7), (1, 1, 3), (3, 5, 2)):
        d = NgramDrafter(gamma=gamma, max_ngram=max_n, min_ngram=min_n)
        for rid in range(6):
            seq = SimpleNamespace(id=rid, tokens=[gen.randrange(4) for _ in range(gen.randrange(1, 5))])
            scan = lambda: scan_lookup(seq.tokens, gamma, min_n, max_n)  # noqa: E731
            for _ in range(60):
                assert d.lookup_request(seq) == scan(), (seq.tokens, min_n, max_n)
                seq.tokens.extend(gen.randrange(4 if rid % 2 else 12) for _ in range(gen.randrange(0, 4)))
            seq.tokens = seq.tokens[:10] + [gen.randrange(4) for _ in range(5)]      # another list
            assert d.lookup_request(seq) == scan()
            del seq.tokens[7:]                                                      # cut short in place
            assert d.lookup_request(seq) == scan()
            d.finish(seq)
        assert not d._index


def test_none_policy_never_drafts():
    model = tiny_model("llama", seed=3)
    drafter = CountingOracle(model)
    got, engine = run_engine(model, drafter, prompts(3), [SamplingParams()] * 3, 8, policy="none")
    assert drafter.calls == 0 and engine.stats.rounds > 0


def test_auto_policy_follows_the_drafter():
    """`auto` (generate's default) is plain decoding without a drafter and the hardware-aware policy
    for every drafter that drafts; each policy it resolves to is one the lossless tests above run."""
    from dspark.errors import DSparkError
    from dspark.schedule import make_policy, resolve_policy
    model = tiny_model("llama")
    want = {"none": Drafter(), "dspark (ngram)": NgramDrafter(gamma=4),
            "dspark": random_trained_drafter("dspark", model, markov_rank=8),
            "dspark (ngram+dspark)": LookupFirst(random_trained_drafter("dspark", model, markov_rank=8))}
    for trained in ("dflash", "eagle3", "mtp"):
        want[f"dspark ({trained})"] = random_trained_drafter(trained, model, gamma=1 if trained == "mtp" else 3)
    for policy, drafter in want.items():
        expected = policy.split()[0]
        assert resolve_policy("auto", drafter) == expected and expected in POLICIES
        assert make_policy("auto", drafter).name == expected
        assert resolve_policy("mtp1", drafter) == "mtp1"     # any named policy passes through
    with pytest.raises(DSparkError, match="unknown policy 'warp'"):
        resolve_policy("warp", want["dspark"])


def test_lookup_first_mixes_both_drafters_and_learns_per_match_length():
    """ngram+dspark: lookup answers where the context repeats 2+ tokens, the trained drafter
    elsewhere, in the same batch; greedy output stays the target's. The dspark policy keeps the
    lookup rounds' acceptance per match length, and ranks a long match's drafts above a short one's."""
    model = tiny_model("llama")
    drafter = LookupFirst(TRAINED["dspark"](model))
    calls = []
    inner_propose = drafter.drafter.propose
    drafter.drafter.propose = lambda seqs: calls.append(len(seqs)) or inner_propose(seqs)
    ps = prompts()
    want = [greedy_reference(model, p, 20) for p in ps]
    got, engine = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 20, policy="dspark", max_batch=4,
                             sps=SPSTable.flat())
    assert got == want
    by_source = engine.policy.by_source
    assert calls and sum(calls) < engine.stats.request_rounds               # both kinds of round
    assert by_source and {k[1] for k in by_source} <= {2, 3, 4}          # lookup rounds, by match length
    policy = DSparkPolicy(4, SPSTable(SPS.tokens, SPS.steps_per_second))    # the spread curve only
    for n, accepted in ((4, 4), (1, 0)):
        for _ in range(20):
            prop = Proposal([5, 6, 7, 8], source=("ngram", n))
            policy.observe([None], [prop], [type("V", (), {"accepted": accepted})()])
    long, short = (policy.survival(Proposal([5, 6, 7, 8], source=("ngram", n)), 4) for n in (4, 1))
    assert long[-1] > 0.9 and short[0] < 0.1
    assert policy.survival(Proposal([5, 6, 7, 8], source=("ngram", 3)), 4) == [1.0] * 4   # unseen: the prior
    # a source shut by its history (20 rejections: 1/21, below the ~0.11 that this SPS curve asks of
    # a first draft) is not shut for good: its evidence fades as steps pass, and the policy verifies
    # its drafts again
    shut = Proposal([5, 6, 7, 8], source=("ngram", 1))
    assert policy.choose([None], [shut], [4]) == [0]
    for _ in range(2 * DSparkPolicy.HISTORY_STEPS):
        policy.observe([None], [Proposal([])], [type("V", (), {"accepted": 0})()])
    assert policy.choose([None], [shut], [4])[0] > 0


SAMPLING = {"t1": SamplingParams(1.0, seed=11), "t1-top-p": SamplingParams(1.0, top_p=0.9, seed=12)}
SAMPLE_DRAFTERS = {
    "none": lambda m: Drafter(),
    "table": lambda m: TableDrafter(m.cfg.vocab_size, gamma=3),
    "table-deterministic": lambda m: TableDrafter(m.cfg.vocab_size, gamma=3, deterministic=True),
    # lookup on a 1-token match, so that both kinds of proposal come up in two-token continuations
    "ngram+dspark": lambda m: LookupFirst(TRAINED["dspark"](m), min_match=1),
    **TRAINED,
}


def _chi_square_case(model, drafter, params, policy="fixed", n=4000, verification="block"):
    prompt = [3, 4, 5]
    exact = exact_joint(model, prompt, params, 2)
    samples = sample_continuations(model, drafter, prompt, params, n, 2, policy=policy, sps=SPS,
                                   verification=verification)
    return chi_square_pvalue(samples, exact)


@pytest.mark.parametrize("sampling", list(SAMPLING))
@pytest.mark.parametrize("name", list(SAMPLE_DRAFTERS))
def test_sampled_distribution_matches_target(name, sampling):
    model = tiny_model("llama", vocab=8, seed=5, dtype=torch.float64)
    p = _chi_square_case(model, SAMPLE_DRAFTERS[name](model), SAMPLING[sampling])
    assert p > 1e-3, p


class ConfidentTableDrafter(TableDrafter):
    """Adds DSpark-like confidences that depend on the previously sampled token."""

    def propose(self, seqs):
        out = []
        for s, prop in zip(seqs, super().propose(seqs)):
            prev = [s.tokens[-1]] + prop.tokens[:-1]
            prop.confidences = torch.sigmoid(self.table[prev, 0] + 1.0)
            out.append(prop)
        return out


@pytest.mark.parametrize("policy", POLICIES)
def test_sampled_distribution_every_policy(policy):
    model = tiny_model("llama", vocab=8, seed=6, dtype=torch.float64)
    p = _chi_square_case(model, ConfidentTableDrafter(8, gamma=3, seed=2), SAMPLING["t1"], policy=policy)
    assert p > 1e-3, p


@pytest.mark.parametrize("name", ["dspark", "ngram+dspark"])
def test_sampled_distribution_with_drafts_stopped_by_the_policy(name, monkeypatch):
    """At batch 1 the dspark policy stops a sampled DSpark round at the first draft it would not
    verify (Policy.draft_stop): still the target's distribution, and the stop did happen."""
    from dspark.schedule import DSparkPolicy
    model = tiny_model("llama", vocab=8, seed=5, dtype=torch.float64)
    drafter = SAMPLE_DRAFTERS[name](model)
    real, refused = DSparkPolicy.draft_stop, []

    def counting(self, seqs):
        rule = real(self, seqs)
        return None if rule is None else (lambda a: rule(a) or refused.append(len(a)) or False)
    monkeypatch.setattr(DSparkPolicy, "draft_stop", counting)
    exact = exact_joint(model, [3, 4, 5], SAMPLING["t1"], 2)
    samples = sample_continuations(model, drafter, [3, 4, 5], SAMPLING["t1"], 3000, 2, policy="dspark", sps=SPS,
                                   slots=1)
    assert refused and min(refused) < 3         # some rounds stopped short of the block
    assert chi_square_pvalue(samples, exact) > 1e-3


@pytest.mark.parametrize("slots", [1, 6])
def test_narrowed_dspark_blocks_stay_lossless(slots, monkeypatch):
    """Narrowed DSpark blocks (Sequence.draft_width): greedy output stays plain greedy's under the
    dspark policy's rule (here one slot past the most it verified in a request's last rounds), and
    sampled output the target's distribution with blocks of 1..gamma slots in turn (the policy
    narrows only greedy requests; the drafter's sampled rounds take any width). Rounds of one
    request in C (slots 1) and of several together (slots 6: the batched pass at the widest width
    asked); blocks did narrow."""
    from dspark.schedule import DSparkPolicy
    model = tiny_model("llama", vocab=8, seed=5, dtype=torch.float64)
    drafter = TRAINED["dspark"](model)
    monkeypatch.setattr(DSparkPolicy, "WIDTH_HEADROOM", 1)
    real, widths = DSparkPolicy.draft_width, []
    monkeypatch.setattr(DSparkPolicy, "draft_width", lambda self, s: widths.append(real(self, s)) or widths[-1])
    ps = [[(i + 3 * j) % 8 for j in range(3 + i % 3)] for i in range(6)]      # within the 8-token vocabulary
    got, _ = run_engine(model, drafter, ps, [SamplingParams()] * len(ps), 12, policy="dspark", max_batch=slots, sps=SPS)
    assert got == [greedy_reference(model, p, 12) for p in ps]
    assert any(w is not None and w < drafter.gamma for w in widths)
    turns = lambda self, s: widths.append(1 + (s.id + len(s.rounds)) % drafter.gamma) or widths[-1]  # noqa: E731
    monkeypatch.setattr(DSparkPolicy, "draft_width", turns)
    widths.clear()
    exact = exact_joint(model, [3, 4, 5], SAMPLING["t1"], 3)
    samples = sample_continuations(model, drafter, [3, 4, 5], SAMPLING["t1"], 3000, 3, policy="dspark", sps=SPS,
                                   slots=slots)
    assert set(widths) == set(range(1, drafter.gamma + 1))
    assert chi_square_pvalue(samples, exact) > 1e-3


def test_a_stopped_sampled_round_is_the_whole_blocks_prefix():
    """A sampled DSpark round stopped by the request's rule (Sequence.draft_stop) holds the first
    drafts of the whole block drawn with the same generator: the same tokens, distributions and
    confidences; the rule saw those drafts' prefix survivals, and slot 0 refused gives no draft."""
    from dspark.batch import FlatBatch
    from dspark.sequence import Sequence
    model = tiny_model("llama", vocab=32, seed=5)
    drafter = random_trained_drafter("dspark", model, gamma=5, tap_layers=[0, 1], markov_rank=8)
    toks = [3, 4, 5, 6, 7, 8]
    cache = model.new_cache(1, 16)
    taps = torch.cat(model.forward(FlatBatch.build([(cache.allocate(), 0, toks[:-1])], "cpu"), cache,
                                   taps=[0, 1], need_logits=False).taps, -1)
    seen = []

    def propose(stop):
        params = SamplingParams(1.0, seed=4)
        seq = Sequence(0, list(toks), 5, params, params.generator("cpu"), 8, num_processed=5)
        drafter.start(seq)
        drafter.observe(seq, taps, None)
        seq.draft_stop = stop
        return drafter.propose([seq])[0]

    whole = propose(None)
    cut = propose(lambda a: seen.append(list(a)) or len(a) < 3)
    assert len(whole.tokens) == 5 and cut.tokens == whole.tokens[:2]
    assert torch.equal(cut.probs, whole.probs[:2])
    assert torch.allclose(cut.confidences, whole.confidences[:2])
    assert seen[-1] == pytest.approx(torch.cumprod(whole.confidences[:3].double(), 0).tolist())
    none = propose(lambda a: False)
    assert none.tokens == [] and none.probs.shape == (0, 32) and none.confidences.shape == (0,)


@pytest.mark.parametrize("name", ["table", "dspark"])
def test_sampled_distribution_token_rule(name):
    """The engines judge sampled drafts by the block rule unless told otherwise; the token rule
    (--verification token) stays lossless too."""
    model = tiny_model("llama", vocab=8, seed=5, dtype=torch.float64)
    p = _chi_square_case(model, SAMPLE_DRAFTERS[name](model), SAMPLING["t1"], verification="token")
    assert p > 1e-3, p


def _first_token_freqs(p_t, p_d, n, bias=1.0, seed=0):
    """Verify one stochastic draft n times; with bias != 1 the acceptance ratio is deliberately
    distorted (to show that the test below detects a small bias)."""
    logits = torch.log(torch.tensor([p_t, p_t], dtype=torch.float64))
    probs_d = torch.tensor([p_d], dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    counts = torch.zeros(len(p_t))
    params = SamplingParams(1.0)
    for _ in range(n):
        x = int(torch.multinomial(probs_d[0], 1, generator=g))
        prop = Proposal([x], probs_d * (1.0 / bias if bias != 1.0 else 1.0))
        if bias != 1.0:
            prop.probs = prop.probs.clone()
            prop.probs[0, x] = probs_d[0, x] / bias
        v = verify_one(logits, prop, params, g)
        counts[v.tokens[0]] += 1
    return counts


@pytest.mark.slow
def test_rejection_sampling_detects_a_one_percent_bias():
    """30,000 single-draft rounds: the exact rule passes; a rule that accepts 5 % too often (moving
    1 % of the output mass from token 0 to token 2) fails the same chi-square test (expected
    statistic about 21 on 2 degrees of freedom)."""
    from scipy import stats
    p_t, p_d = [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]
    n = 30000
    exact = stats.chisquare(_first_token_freqs(p_t, p_d, n).numpy(), [p * n for p in p_t]).pvalue
    biased = stats.chisquare(_first_token_freqs(p_t, p_d, n, bias=1.05).numpy(), [p * n for p in p_t]).pvalue
    assert exact > 1e-3
    assert biased < 1e-3


def test_batched_verification_equals_alone():
    """Including requests without drafts, which verify() draws together per sampling setting
    (different seeds, as in batched regeneration): the same tokens as one by one."""
    g = torch.Generator().manual_seed(0)
    V = 40
    lens = [3, 0, 5, 1, 0, 0, 0, 0]
    logits = torch.randn(sum(n + 1 for n in lens), V, generator=g)
    props = []
    for n in lens:
        probs = torch.softmax(torch.randn(n, V, generator=g), -1)
        props.append(Proposal(torch.multinomial(probs, 1, generator=g).flatten().tolist(), probs))
    params = [SamplingParams(1.0), SamplingParams(0.0), SamplingParams(0.7, top_k=5), SamplingParams(1.0, top_p=0.8),
              *[SamplingParams(0.7, top_p=0.8, top_k=20, seed=s) for s in (11, 12)], SamplingParams(0.0),
              SamplingParams(1.0)]
    together = verify(logits, props, params, [torch.Generator().manual_seed(i) for i in range(len(lens))])
    alone, row = [], 0
    for i, (n, prop, p) in enumerate(zip(lens, props, params)):
        alone.append(verify_one(logits[row:row + n + 1], prop, p, torch.Generator().manual_seed(i)))
        row += n + 1
    assert together == alone


def _block_tables(vocab, gamma, seed, sharpness=2.0):
    """Random target and draft conditionals p(. | prefix), q(. | prefix) for every prefix up to gamma."""
    g = torch.Generator().manual_seed(seed)
    p, q = {}, {}
    for n in range(gamma + 1):
        for prefix in itertools.product(range(vocab), repeat=n):
            p[prefix], q[prefix] = (torch.softmax(sharpness * torch.randn(vocab, generator=g, dtype=torch.float64), 0)
                                    for _ in range(2))
    return p, q


def _kept_length_chances(h):
    """P(the block rule keeps k drafts), k = 0..n: prefix k's test passes and no longer one's does."""
    return [(h[k - 1] if k else 1.0) * math.prod(1 - hj for hj in h[k:]) for k in range(len(h) + 1)]


def _block_rule_exactly(p, q, vocab, gamma):
    """Every draft block and every outcome of the block rule, weighted exactly: (the distribution of
    the first gamma + 1 tokens, the round's tokens continued by the target; expected accepted drafts)."""
    out, accepted = collections.defaultdict(float), 0.0
    for x in itertools.product(range(vocab), repeat=gamma):
        weight = math.prod(float(q[x[:k]][x[k]]) for k in range(gamma))
        p_t = torch.stack([p[x[:k]] for k in range(gamma + 1)])
        p_d = torch.stack([q[x[:k]] for k in range(gamma)])
        h, backing = block_acceptance(p_t, p_d, list(x))
        for kept, kept_chance in enumerate(_kept_length_chances(h)):   # the longest prefix whose test passes
            chance = weight * kept_chance
            accepted += chance * kept
            nxt = p_t[gamma] if kept == gamma else residual(p_t[kept], p_d[kept], x[kept], backing[kept])
            for y in range(vocab):
                for rest in itertools.product(range(vocab), repeat=gamma - kept):
                    s = x[:kept] + (y,) + rest
                    out[s] += chance * float(nxt[y]) * math.prod(float(p[s[:j]][s[j]]) for j in range(kept + 1, gamma + 1))
    return out, accepted


def _token_rule_accepted(p, q, vocab, gamma):
    """Expected accepted drafts of the token rule: sum over m of P(x_1..x_m all survive)."""
    return sum(math.prod(min(float(p[x[:k]][x[k]]), float(q[x[:k]][x[k]])) for k in range(m))
               for m in range(1, gamma + 1) for x in itertools.product(range(vocab), repeat=m))


def test_block_verification_is_exact():
    """Enumerating every draft block and every outcome: the block rule's output is the target's
    joint distribution to round-off, and it accepts more drafts than the token rule on average
    (the paper's two-token example: 11/9 against 10/9)."""
    vocab, gamma = 3, 3
    for seed in range(3):
        p, q = _block_tables(vocab, gamma, seed)
        out, block = _block_rule_exactly(p, q, vocab, gamma)
        for s in itertools.product(range(vocab), repeat=gamma + 1):
            assert out[s] == pytest.approx(math.prod(float(p[s[:j]][s[j]]) for j in range(gamma + 1)), abs=1e-12)
        assert block > _token_rule_accepted(p, q, vocab, gamma) + 1e-3
    # Sun et al.'s example: context-free p = (1/3, 2/3), q = (2/3, 1/3), two drafts
    target, draft = torch.tensor([1 / 3, 2 / 3], dtype=torch.float64), torch.tensor([2 / 3, 1 / 3], dtype=torch.float64)
    prefixes = [x for n in range(3) for x in itertools.product(range(2), repeat=n)]
    p, q = {x: target for x in prefixes}, {x: draft for x in prefixes}
    _, block = _block_rule_exactly(p, q, 2, 2)
    assert block == pytest.approx(11 / 9) and _token_rule_accepted(p, q, 2, 2) == pytest.approx(10 / 9)


def test_verify_one_draws_the_block_rule():
    """verify_one's random draws give each kept length the probability the rule assigns it
    (20,000 rounds of one three-draft block, chi-square), and with one draft the block rule is the
    token rule, draw for draw."""
    from scipy import stats
    vocab, gamma = 4, 3
    p, q = _block_tables(vocab, gamma, seed=4, sharpness=1.0)
    x = (1, 0, 2)
    p_t = torch.stack([p[x[:k]] for k in range(gamma + 1)])
    p_d = torch.stack([q[x[:k]] for k in range(gamma)])
    h, _ = block_acceptance(p_t, p_d, list(x))
    expected = _kept_length_chances(h)
    g, n = torch.Generator().manual_seed(0), 20000
    counts = [0] * (gamma + 1)
    params = SamplingParams(1.0)
    for _ in range(n):
        counts[verify_one(p_t.log(), Proposal(list(x), p_d), params, g).accepted] += 1
    possible = [k for k in range(gamma + 1) if expected[k] > 0]
    assert len(possible) >= 3 and all(counts[k] == 0 for k in range(gamma + 1) if k not in possible)
    assert stats.chisquare([counts[k] for k in possible], [expected[k] * n for k in possible]).pvalue > 1e-3
    for seed in range(200):
        one = Proposal([x[0]], p_d[:1])
        rules = [verify_one(p_t[:2].log(), one, params, torch.Generator().manual_seed(seed), rule)
                 for rule in ("block", "token")]
        assert rules[0] == rules[1]


def test_unknown_verification_rule_is_refused():
    model = tiny_model("llama", vocab=8, seed=5)
    with pytest.raises(DSparkError, match="verification rule"):
        run_engine(model, Drafter(), [[3, 4]], [SamplingParams(1.0)], 2, verification="tree")


def test_appendix_counterexample():
    """The paper's appendix A: one request, p_t = (0.7, 0.3), p_d = (0.5, 0.5), a_1 = 0.8,
    c_2 = 0.9 after A and 0 after B, SPS(1..3) = 1, 0.5, 0.45. A search without the early stop
    outputs A with probability 0.85; Algorithm 1 keeps the target's 0.7."""
    sps = SPSTable([1, 2, 3], [1.0, 0.5, 0.45])
    logits = torch.log(torch.tensor([[0.7, 0.3]] * 3, dtype=torch.float64))
    p_d = torch.tensor([0.5, 0.5], dtype=torch.float64)
    params = SamplingParams(1.0)

    def freq_a(early_stop: bool, n=6000) -> float:
        policy, g, hits = DSparkPolicy(2, sps, early_stop=early_stop), torch.Generator().manual_seed(1), 0
        for _ in range(n):
            x1 = int(torch.multinomial(p_d, 1, generator=g))
            x2 = int(torch.multinomial(p_d, 1, generator=g))
            prop = Proposal([x1, x2], torch.stack([p_d, p_d]),
                            torch.tensor([0.8, 0.9 if x1 == 0 else 0.0], dtype=torch.float64))
            (n_verify,) = policy.choose([None], [prop], [2])
            prop = prop.truncated(n_verify)
            v = verify_one(logits[:n_verify + 1], prop, params, g)
            hits += v.tokens[0] == 0
        return hits / n

    assert abs(freq_a(early_stop=True) - 0.70) < 0.025    # 4 standard errors
    assert abs(freq_a(early_stop=False) - 0.85) < 0.025


def test_context_full_retires_with_length():
    """A request whose context fills up before max_new_tokens ends cleanly with "length"."""
    from dspark.engine import Engine, EngineConfig
    model = tiny_model("llama")
    engine = Engine(model, NgramDrafter(gamma=4), EngineConfig(max_batch=1, max_len=24), eos_ids=set())
    seq = engine.add_request(list(range(5, 17)), SamplingParams(), max_new_tokens=100)
    reasons = [ev.finish_reason for _ in range(40) if engine.has_work for ev in engine.step() if ev.finished]
    assert reasons == ["length"] and len(seq.tokens) == 24
    assert seq.output_ids == greedy_reference(model, list(range(5, 17)), 12)


REAL_PROMPTS = [
    "Write a Python function that reverses a linked list.",
    "What is 17 times 23? Explain step by step.",
    "List three uses of a hash map.",
    "Translate 'good morning' into French and Spanish.",
    "Write a haiku about the sea.",
    "Explain recursion to a child.",
    "def fibonacci(n):",
    "Give me a SQL query that counts rows per day.",
    "What is the capital of Australia?",
    "Summarize the plot of Romeo and Juliet in two sentences.",
]


def test_real_target_greedy_identity(smol):
    """SmolLM2, 10 prompts: speculative decoding with n-gram lookup and with the committed DSpark
    (fixed block and the dspark policy) and MTP-1 drafters equals plain decoding token for token.
    In the default (fast) precision every position's logits are the same bits in a decode step and
    in a verification (models/runtime.py), so the equality is exact, with no near-tie allowance."""
    from dspark.drafters import load
    from dspark.generate import generate
    from dspark.schedule import SPSTable
    assert smol.model.runtime is not None          # the default precision is the batch-invariant one
    # a made-up SPS table that makes drafts worth verifying, so the dspark policy verifies some
    sps = SPSTable([1, 2, 4, 8], [25.0, 24.0, 22.0, 18.0])
    variants = [("ngram", NgramDrafter(gamma=5), "fixed"), ("dspark", load("dspark", smol), "fixed"),
                ("dspark", load("dspark", smol), "dspark"), ("mtp", load("mtp", smol), "fixed")]
    for prompt in REAL_PROMPTS:
        ids = smol.encode_prompt(prompt)
        plain = generate(smol, Drafter(), ids, SamplingParams(), 24)["token_ids"]
        for name, drafter, policy in variants:
            spec = generate(smol, drafter, ids, SamplingParams(), 24, policy=policy, sps_table=sps)["token_ids"]
            assert spec == plain, (name, policy, prompt)


def test_new_requests_start_where_the_last_judged_request_stands():
    """A request's first drafting call (its whole prompt's catch-up) is not judged; a request
    judged not worth its drafting pauses; a request arriving next starts paused too (its first
    draft would catch up on its whole prompt), and one arriving after a request that paid drafts
    at once."""
    from types import SimpleNamespace
    policy = DSparkPolicy(4, SPSTable([1, 64], [100.0, 100.0]))     # a step: 10 ms at any size
    old, new, newer = (SimpleNamespace(id=i) for i in range(3))
    sure = Proposal([1, 2, 3, 4], confidences=torch.full((4,), 0.99, dtype=torch.float64))

    def draft(seq, seconds):
        assert policy.drafts_for([seq]) == [True]
        policy.choose([seq], [sure], [4])
        policy.drafted([seq], seconds)
    draft(old, 1.0)                             # the catch-up: not judged
    draft(old, 1.0)                             # a second of drafting: never pays
    assert policy.drafts_for([old, new]) == [False, False]    # both sit out a stretch of 1 step
    policy.forget(old)
    draft(new, 1.0)
    draft(new, 1e-6)                            # next to free: pays
    assert policy.drafts_for([newer]) == [True]


def test_a_request_that_pays_on_average_keeps_drafting():
    """Worth and cost add up over a request's judgments (WORTH_DECAY): a round whose drafts were
    not worth their cost does not pause a request whose rounds paid well before it, while a run of
    such rounds does."""
    from types import SimpleNamespace
    policy = DSparkPolicy(4, SPSTable([1, 64], [100.0, 100.0]))     # a step: 10 ms at any size
    seq, other = SimpleNamespace(id=0), SimpleNamespace(id=1)
    sure = Proposal([1, 2, 3, 4], confidences=torch.full((4,), 0.9, dtype=torch.float64))
    unsure = Proposal([1, 2, 3, 4], confidences=torch.full((4,), 0.05, dtype=torch.float64))

    def draft(proposal, seconds):
        assert policy.drafts_for([seq, other]) == [True, False]
        policy.choose([seq, other], [proposal, Proposal([])], [4, 0])
        policy.drafted([seq], seconds)
    policy.pause[other.id] = [10**6, 1, 0]
    draft(sure, 0.0)                                 # the catch-up (not judged)
    draft(sure, 0.001)                               # ~3.4 tokens for 1 ms of drafting: pays
    draft(unsure, 0.01)                              # ~0.05 tokens for 10 ms: does not, on its own
    assert policy.drafts_for([seq, other])[0]        # but the request still pays over both
    policy.choose([seq, other], [unsure, Proposal([])], [4, 0])
    for _ in range(3):
        policy.drafted([seq], 0.01)
    assert policy.pause[seq.id][0] > 0               # several in a row: it pauses


def _online_dspark(model):
    """DSpark whose confidences follow each request's verified rounds (a large online rate, so that
    they move a lot and the policy's cuts with them)."""
    d = TRAINED["dspark"](model)
    ones = [1.0] * d.gamma
    d.load_calibration({"temperatures": ones, "online_rate": 0.5, "greedy": {"temperatures": ones, "online_rate": 0.5}})
    return d


@pytest.mark.parametrize("policy", POLICIES)
def test_online_calibration_is_lossless(policy):
    """The online offsets change only how many drafts the confidence-reading policies verify, from
    verified rounds (causal): greedy output stays the target's and sampled output its distribution,
    under every policy."""
    model = tiny_model("llama", seed=3)
    ps = prompts(6)
    got, engine = run_engine(model, _online_dspark(model), ps, [SamplingParams()] * len(ps), 20,
                             policy=policy, max_batch=4, stagger=True, sps=SPS)
    assert got == [greedy_reference(model, p, 20) for p in ps]
    assert engine.stats.drafted > 0 or policy == "none"
    small = tiny_model("llama", vocab=8, seed=5, dtype=torch.float64)
    p = _chi_square_case(small, _online_dspark(small), SAMPLING["t1"], policy=policy)
    assert p > 1e-3, p
