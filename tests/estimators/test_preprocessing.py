import pytest
import torch

from mine_gan.estimators import MarginalTransform


def test_rank_gauss_undoes_monotone_distortions():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(500, 2, generator=g)
    base = MarginalTransform("rank_gauss").fit(u).transform(u)
    for distort in (lambda v: v**3, torch.sinh, lambda v: torch.exp(3 * v)):
        torch.testing.assert_close(MarginalTransform("rank_gauss").fit(distort(u)).transform(distort(u)), base)


def test_rank_gauss_gives_standard_normal_marginals_for_cauchy_data():
    torch.manual_seed(1)
    cauchy = torch.distributions.StudentT(1.0).sample((4000, 1))
    out = MarginalTransform("rank_gauss").fit(cauchy).transform(cauchy)
    assert out.mean().abs() < 0.02 and (out.std() - 1).abs() < 0.02
    assert out.abs().max() < 4.0


def test_held_out_values_use_the_training_cdf():
    train = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    t = MarginalTransform("rank_gauss").fit(train)
    # Below every training value -> the lowest quantile; between the 2nd and 3rd -> the median.
    assert t.transform(torch.tensor([[-100.0]])).item() == pytest.approx(t.transform(train[:1]).item())
    assert t.transform(torch.tensor([[1.5]])).item() == pytest.approx(0.0, abs=1e-6)


def test_standardize():
    u = torch.tensor([[1.0, 10.0], [3.0, 30.0]])
    out = MarginalTransform("standardize").fit(u).transform(u)
    torch.testing.assert_close(out.mean(0), torch.zeros(2))


def test_unknown_kind():
    with pytest.raises(ValueError, match="`preprocess` must be one of"):
        MarginalTransform("whiten")


@pytest.mark.parametrize(
    "u",
    [
        torch.randn(500, 3, generator=torch.Generator().manual_seed(2)),
        torch.randint(0, 4, (500, 3), generator=torch.Generator().manual_seed(3)).float(),  # ties everywhere
    ],
    ids=["continuous", "ties"],
)
def test_fit_transform_reads_ranks_off_the_sort_with_the_same_result(u):
    fitted = MarginalTransform("rank_gauss").fit(u)
    torch.testing.assert_close(MarginalTransform("rank_gauss").fit_transform(u), fitted.transform(u), rtol=0, atol=0)
    held_out = torch.cat([u[:50] + 1e-3, u[:5]])  # between training values, and equal to some
    expected = MarginalTransform("rank_gauss").fit(u)
    expected._ties = True  # force the two-search path as the reference
    torch.testing.assert_close(fitted.transform(held_out), expected.transform(held_out), rtol=0, atol=0)
