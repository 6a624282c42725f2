"""Logits processing by hand: temperature, top-k, top-p (the nucleus keeps the smallest prefix whose
mass reaches top_p), greedy as a one-hot distribution."""
import math

import pytest
import torch

from dspark.errors import DSparkError
from dspark.sampling import SamplingParams, probabilities

pytestmark = pytest.mark.gpu      # device-independent: DSPARK_TEST_DEVICE=cuda runs it there

P = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
LOGITS = P.log()


def test_temperature_one_is_softmax():
    torch.testing.assert_close(probabilities(LOGITS, SamplingParams(1.0)), P)


def test_top_p_keeps_smallest_prefix_reaching_mass():
    got = probabilities(LOGITS, SamplingParams(1.0, top_p=0.8))
    torch.testing.assert_close(got, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))


def test_top_k_and_combined():
    got = probabilities(LOGITS, SamplingParams(1.0, top_k=3))
    torch.testing.assert_close(got, torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)
    got = probabilities(LOGITS, SamplingParams(1.0, top_k=3, top_p=0.6))
    torch.testing.assert_close(got, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))


def test_temperature_sharpens():
    got = probabilities(LOGITS, SamplingParams(0.5))
    want = P ** 2 / (P ** 2).sum()
    torch.testing.assert_close(got, want)
    assert math.isclose(float(got.sum()), 1.0, rel_tol=1e-6)


def test_greedy_is_one_hot():
    assert probabilities(LOGITS, SamplingParams(0.0)).tolist() == [[1.0, 0.0, 0.0, 0.0]]


@pytest.mark.parametrize("kw", [{"temperature": -1}, {"top_p": 0}, {"top_p": 1.5}, {"top_k": -2}])
def test_bad_parameters_are_rejected(kw):
    with pytest.raises(DSparkError):
        SamplingParams(**kw)
