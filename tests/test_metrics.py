"""Acceptance metrics of deepspec.eval.metrics on hand-made rounds with known answers."""
import json
import math

import numpy as np
import pytest

from deepspec.eval.metrics import (RoundRecord, accept_rate, accepted_histogram, calibration_dataset,
                                   conditional_acceptance, conditional_from_accept_rate, load_records,
                                   macro, summarize, tau, threshold_sweep, write_records)


def R(proposed, accepted, committed=None, eos=False, logits=None, drafted=None):
    if committed is None:
        committed = accepted if eos else accepted + 1
    return RoundRecord(proposed=proposed, accepted=accepted, committed=committed, eos=eos,
                       confidence_logits=logits, drafted=drafted)


# three fixed-length rounds and one that ends on an accepted EOS at slot 1
FIXED = [R(4, 2), R(4, 4), R(4, 0)]
WITH_EOS = FIXED + [R(4, 1, eos=True)]


def test_tau_without_eos():
    assert tau(FIXED) == pytest.approx((3 + 5 + 1) / 3)


def test_tau_with_eos_round_counts_no_bonus():
    assert tau(WITH_EOS) == pytest.approx((3 + 5 + 1 + 1) / 4)


def test_tau_ignores_max_tokens_cut():
    # 3 accepted but only 2 committed because max_tokens cut the round: tau still counts 3 + 1
    assert tau([R(4, 3, committed=2)]) == 4
    assert tau([]) is None


def test_accept_rate_fixed_length():
    assert accept_rate(FIXED) == pytest.approx([2 / 3, 2 / 3, 1 / 3, 1 / 3])


def test_accept_rate_eos_censors_slots_after_eos():
    # the EOS round is an observation for slot 1 only
    assert accept_rate(WITH_EOS) == pytest.approx([3 / 4, 2 / 3, 1 / 3, 1 / 3])


def test_accept_rate_variable_length_and_gamma():
    recs = [R(1, 1), R(2, 0), R(3, 3)]
    assert accept_rate(recs) == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert accept_rate(recs, gamma=5) == pytest.approx([2 / 3, 1 / 2, 1.0, None, None])


def test_conditional_acceptance_equals_ratio_for_fixed_length():
    cond = conditional_acceptance(FIXED)
    assert cond == pytest.approx([2 / 3, 1.0, 0.5, 1.0])
    assert cond == pytest.approx(conditional_from_accept_rate(accept_rate(FIXED)))


def test_conditional_acceptance_direct_count_with_eos():
    # j=1: 3 of 4; j=2: rounds with slot 1 accepted and slot 2 verified: r1, r2 -> 2/2;
    # j=3: r1, r2 -> 1/2; j=4: r2 -> 1/1
    assert conditional_acceptance(WITH_EOS) == pytest.approx([3 / 4, 1.0, 0.5, 1.0])


def test_conditional_from_accept_rate_zero():
    assert conditional_from_accept_rate([0.5, 0.0, 0.0]) == [0.5, 0.0, None]


def test_histogram():
    assert accepted_histogram(WITH_EOS) == [1, 1, 1, 0, 1]
    assert accepted_histogram(WITH_EOS, gamma=6) == [1, 1, 1, 0, 1, 0, 0]
    with pytest.raises(ValueError):
        accepted_histogram(WITH_EOS, gamma=3)


def test_summarize():
    s = summarize(WITH_EOS, elapsed_s=2.0)
    assert s["rounds"] == 4 and s["gamma"] == 4
    assert s["tau"] == pytest.approx(2.5)
    assert s["accepted_histogram"] == [1, 1, 1, 0, 1]
    assert s["accepted_distribution"] == pytest.approx([0.25, 0.25, 0.25, 0, 0.25])
    assert s["draft_tokens_per_round"] == pytest.approx(4.0)
    assert s["tokens_per_second"] == pytest.approx((3 + 5 + 1 + 1) / 2.0)
    assert s["overall_acceptance"] == pytest.approx(7 / 13)
    assert s["eos_rounds"] == 1
    assert summarize(WITH_EOS)["tokens_per_second"] is None
    json.dumps(s)  # JSON-able


def test_drafted_tokens():
    s = summarize([R(2, 1, drafted=7), R(3, 3, drafted=7)])
    assert s["draft_tokens_per_round"] == pytest.approx(2.5)
    assert s["drafted_tokens_per_round"] == pytest.approx(7.0)


def test_macro_averages_datasets_equally():
    a = summarize(FIXED)                      # tau 3, 4 positions
    b = summarize([R(2, 2), R(2, 0)])         # tau 2, 2 positions
    m = macro({"a": a, "b": b})
    assert m["tau"] == pytest.approx(2.5)
    assert m["datasets"] == 2 and m["rounds"] == 5
    assert m["accept_rate"] == pytest.approx([(2 / 3 + 0.5) / 2, (2 / 3 + 0.5) / 2, 1 / 3, 1 / 3])
    assert m["conditional_acceptance"][1] == pytest.approx((1.0 + 1.0) / 2)
    assert m["tokens_per_second"] is None
    assert macro([a, b]) == m


def test_record_roundtrip_and_validation(tmp_path):
    r = R(3, 2, logits=[1.0, -0.5, 2.0], drafted=7)
    d = r.to_dict()
    assert set(d) == {"proposed", "accepted", "committed", "eos", "confidence_logits", "drafted", "request", "source"}
    assert RoundRecord.from_dict(json.loads(json.dumps(d))) == r
    assert RoundRecord(proposed=2, accepted=1, committed=2).drafted == 2
    with pytest.raises(ValueError):
        RoundRecord.from_dict({**d, "bogus": 1})
    with pytest.raises(ValueError):
        R(2, 3)
    with pytest.raises(ValueError):
        R(5, 1, drafted=4)
    path = write_records([r, R(1, 0)], str(tmp_path / "x.jsonl"))
    assert load_records([path]) == [r, R(1, 0)]


def test_calibration_dataset():
    recs = [R(3, 1, logits=[0.0, 0.0, 0.0]),
            R(3, 3, logits=[math.log(3), 0.0, 0.0]),
            R(3, 1, eos=True, logits=[0.0, 0.0, 0.0]),   # EOS at slot 1: slots 2, 3 censored
            R(2, 2)]                                     # no confidences: not part of it
    data = calibration_dataset(recs)
    assert sorted(data) == [1, 2, 3]
    p1, y1 = data[1]
    assert p1 == pytest.approx([0.5, 0.75, 0.5]) and list(y1) == [1, 1, 1]
    p2, y2 = data[2]
    assert p2 == pytest.approx([0.25, 0.375]) and list(y2) == [0, 1]
    p3, y3 = data[3]
    assert p3 == pytest.approx([0.125, 0.1875]) and list(y3) == [0, 1]
    # temperatures divide the logits slot by slot
    p1t, _ = calibration_dataset(recs, temperatures=[2.0, 1.0, 1.0])[1]
    assert p1t[1] == pytest.approx(1 / (1 + 3 ** -0.5))
    # biases are added after the temperature, slot by slot; missing ones are 0
    data = calibration_dataset(recs, temperatures=[2.0], biases=[math.log(3) / 2, -math.log(3)])
    c1 = 1 / (1 + 3 ** -0.5)                             # sigmoid(0 / 2 + log 3 / 2)
    assert data[1][0] == pytest.approx([c1, 0.75, c1])   # 0.75 = sigmoid(log 3 / 2 + log 3 / 2)
    assert data[2][0] == pytest.approx([c1 * 0.25, 0.75 * 0.25])
    assert data[3][0] == pytest.approx([c1 * 0.25 * 0.5, 0.75 * 0.25 * 0.5])


def test_threshold_sweep():
    recs = [R(3, 2, logits=[10.0, 0.0, -10.0]),   # c ~ 1, 0.5, 0
            R(3, 3, logits=[10.0, 10.0, 10.0]),
            R(3, 3)]                               # no confidences: left out
    sw = threshold_sweep(recs, [0.0, 0.3, 0.7])
    assert sw["rounds"] == 2
    assert sw["verified_per_step"] == pytest.approx([3.0, 2.5, 2.0])
    assert sw["accepted_per_step"] == pytest.approx([2.5, 2.5, 2.0])
    assert sw["rejected_per_step"] == pytest.approx([0.5, 0.0, 0.0])
    assert sw["acceptance_rate"] == pytest.approx([5 / 6, 1.0, 1.0])
    # prefix score: a = 1, .5, 0 for the first round -> same cut points here; at 0.6 slot 2 is cut
    sp = threshold_sweep(recs, [0.6], score="prefix")
    assert sp["verified_per_step"] == pytest.approx([2.0])
    # a temperature of 10 on slot 1 brings c_1 down to sigmoid(1) = 0.73: threshold 0.8 cuts everything
    assert threshold_sweep(recs, [0.8])["verified_per_step"] == pytest.approx([2.0])
    st = threshold_sweep(recs, [0.8], temperatures=[10.0])
    assert st["verified_per_step"] == [0.0] and st["acceptance_rate"] == [None]
    # ... and a bias of +1 brings it back to sigmoid(2) = 0.88
    assert threshold_sweep(recs, [0.8], temperatures=[10.0], biases=[1.0])["verified_per_step"] == pytest.approx([2.0])
    with pytest.raises(ValueError):
        threshold_sweep(recs, [0.5], score="bogus")


def test_tau_by_block_truncates_hand_made_rounds():
    from deepspec.eval.metrics import tau_by_block
    rounds = [RoundRecord(proposed=4, accepted=0, committed=1),
              RoundRecord(proposed=4, accepted=3, committed=4),
              RoundRecord(proposed=4, accepted=2, committed=2, eos=True)]   # EOS accepted at slot 2
    # k=1: 1, 2, 2 (EOS beyond k: bonus) | k=2: 1, 3, 2 (EOS within k: no bonus) | k=3: 1, 4, 2
    assert tau_by_block(rounds) == pytest.approx([5 / 3, 6 / 3, 7 / 3, 7 / 3])
    assert tau_by_block(rounds)[-1] == pytest.approx(tau(rounds))
