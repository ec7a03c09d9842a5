"""Deep VIB's KL to N(0, I) against torch's analytic Gaussian KL, and its gradient against autograd's."""

from __future__ import annotations

import pytest
import torch

from mine_gan.functional import kl_to_standard_normal


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_torch_distributions(seed: int) -> None:
    rng = torch.Generator().manual_seed(seed)
    mean = torch.randn(6, 5, generator=rng, dtype=torch.float64)
    std = torch.rand(6, 5, generator=rng, dtype=torch.float64) * 2 + 0.05
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, std), torch.distributions.Normal(0.0, 1.0)
    ).sum(dim=1)
    torch.testing.assert_close(kl_to_standard_normal(mean, std), expected, rtol=1e-12, atol=1e-12)


def test_is_zero_only_at_the_prior_and_its_gradient_is_analytic() -> None:
    mean = torch.tensor([[0.3, -1.2]], dtype=torch.float64, requires_grad=True)
    std = torch.tensor([[0.5, 2.0]], dtype=torch.float64, requires_grad=True)
    kl_to_standard_normal(mean, std).sum().backward()
    # ∂KL/∂μ = μ and ∂KL/∂σ = σ − 1/σ
    torch.testing.assert_close(mean.grad, mean.detach())
    torch.testing.assert_close(std.grad, std.detach() - 1 / std.detach())
    assert kl_to_standard_normal(torch.zeros(1, 2), torch.ones(1, 2)).item() == 0.0


def test_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"`mean` and `std` must both be \(N, D\), got \(3, 2\) and \(3,\)"):
        kl_to_standard_normal(torch.zeros(3, 2), torch.ones(3))
