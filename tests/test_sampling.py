"""Logits processing by hand: temperature, top-k, top-p (the nucleus keeps the smallest prefix whose
mass reaches top_p), greedy as a one-hot distribution."""
import math

import pytest
import torch

from dspark.errors import DSparkError
from dspark import sampling
from dspark.sampling import SamplingParams, probabilities, sample

pytestmark = pytest.mark.gpu      # device-independent: DSPARK_TEST_DEVICE=cuda runs it there

P = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
LOGITS = P.log()


def test_temperature_one_is_softmax():
    torch.testing.assert_close(probabilities(LOGITS, SamplingParams(1.0)), P)


def test_top_p_keeps_smallest_prefix_reaching_mass():
    got = probabilities(LOGITS, SamplingParams(1.0, top_p=0.8))
    torch.testing.assert_close(got, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))


def _nucleus_by_hand(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """The definition, one row at a time: walk the tokens from the most likely, keep each one while
    the mass kept before it is short of top_p, renormalize."""
    out = torch.zeros_like(probs)
    for r, row in enumerate(probs.double()):
        kept = 0.0
        for tok in row.argsort(descending=True).tolist():
            if kept >= top_p:
                break
            out[r, tok] = row[tok]
            kept += float(row[tok])
        out[r] /= out[r].sum()
    return out


@pytest.mark.parametrize("top_p", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("impl", ["probabilities", "torch_probabilities"])
def test_top_p_over_a_large_vocabulary(top_p, impl, monkeypatch):
    """Rows from peaked to flat, so that some nuclei lie in the first candidates, some in the
    second and some need the full sort (torch's stages; C's: the 64 most probable, then exponent
    buckets): each equals the nucleus by definition."""
    monkeypatch.setattr(sampling, "NUCLEUS_CANDIDATES", (16, 256))
    g = torch.Generator().manual_seed(0)
    logits = torch.cat([torch.randn(2, 4096, generator=g) * s for s in (9, 4, 2, 0.5)])
    got = getattr(sampling, impl)(logits, SamplingParams(1.0, top_p=top_p))
    want = _nucleus_by_hand(torch.softmax(logits, -1), top_p)
    sizes = (got > 0).sum(-1)
    assert sizes.min() <= 16 and sizes.max() > 256       # every path ran
    assert torch.equal(got > 0, want > 0)
    torch.testing.assert_close(got, want.float(), rtol=1e-5, atol=1e-7)


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


def test_sample_follows_the_distribution_and_skips_zeros():
    """Inverse-CDF sampling: chi-square against the probabilities (unnormalized rows allowed), and
    a zero-probability token is never drawn, not even at the ends of the CDF."""
    p = torch.tensor([[0.0, 0.5, 0.0, 0.2, 0.3, 0.0]]) * 3.0
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([sample(p.expand(1000, -1), g) for _ in range(20)])
    counts = torch.bincount(draws, minlength=6).double()
    assert counts[[0, 2, 5]].sum() == 0
    expected = p[0, [1, 3, 4]].double() / p.sum() * draws.numel()
    chi2 = float(((counts[[1, 3, 4]] - expected) ** 2 / expected).sum())
    assert chi2 < 13.8          # 2 degrees of freedom, p = 0.001
    # rows of different shapes in one call, each one-hot: always its token
    eye = torch.eye(5)[[4, 0, 2]]
    assert sample(eye, g).tolist() == [4, 0, 2]


def test_sample_at_the_top_of_the_cdf(monkeypatch):
    """u * total rounding up to the total must still give a token with mass (the last one)."""
    monkeypatch.setattr(torch, "rand", lambda *a, **k: torch.ones(a[0], a[1]))
    p = torch.tensor([[0.25, 0.75, 0.0, 0.0]])
    assert sample(p).tolist() == [1]
