"""Deep VIB's variational upper bound on ``I(X; Z)`` (Alemi et al., ICLR 2017), the MI-free bottleneck baseline."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["kl_to_standard_normal"]


def kl_to_standard_normal(mean: Tensor, std: Tensor) -> Tensor:
    r"""``KL(N(mean, diag(std²)) ‖ N(0, I))`` per sample, in nats.

    Averaged over ``x``, it is deep VIB's upper bound on the encoder's mutual information (Alemi et al.,
    2017, eq. 13 with the prior ``r(z) = N(0, I)``): ``I(X; Z) ≤ E_x KL(q(z | x) ‖ r(z))``.

    .. math:: \mathrm{KL} = \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big)

    Args:
        mean: ``(N, D)`` means of the encoder's Gaussian.
        std: ``(N, D)`` standard deviations, positive.

    Returns:
        ``(N,)`` divergences, each ``≥ 0``.

    Example:
        >>> kl_to_standard_normal(torch.zeros(2, 3), torch.ones(2, 3))
        tensor([0., 0.])
        >>> kl_to_standard_normal(torch.tensor([[1.0]]), torch.tensor([[1.0]]))  # a unit shift: 1/2 nat
        tensor([0.5000])
    """
    if mean.shape != std.shape or mean.ndim != 2:
        raise ValueError(f"`mean` and `std` must both be (N, D), got {tuple(mean.shape)} and {tuple(std.shape)}")
    variance = std.square()
    return 0.5 * (mean.square() + variance - 1.0 - variance.log()).sum(dim=1)
