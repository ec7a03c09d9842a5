"""Correlated Gaussians: the MINE paper's ground-truth benchmark (Belghazi et al. 2018, §4.1, Fig. 1)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mine_gan.validation import check_positive

__all__ = ["correlated_gaussians", "gaussian_mi"]


def gaussian_mi(dim: int, rho: float) -> float:
    r"""Closed-form MI of ``dim`` independent pairs ``(x_i, z_i)`` of standard normals with correlation ``ρ``.

    .. math:: I(X; Z) = -\frac{d}{2}\log(1 - \rho^2)

    Example:
        >>> round(gaussian_mi(2, 0.5), 4)
        0.2877
    """
    if not -1.0 < rho < 1.0:
        raise ValueError(f"`rho` must be in (-1, 1), got {rho}")
    return -dim / 2 * math.log1p(-(rho**2))


def correlated_gaussians(n: int, dim: int, rho: float, rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    r"""``n`` samples of ``X, Z ∈ R^dim`` with ``corr(x_i, z_j) = ρ δ_ij`` and standard normal marginals.

    .. math:: z = \rho x + \sqrt{1 - \rho^2}\,\varepsilon,\quad x, \varepsilon \sim \mathcal{N}(0, I_d)

    Returns:
        ``(x, z)``, each ``(n, dim)``.

    Example:
        >>> x, z = correlated_gaussians(5, 3, 0.9, torch.Generator().manual_seed(0))
        >>> x.shape, z.shape
        (torch.Size([5, 3]), torch.Size([5, 3]))
    """
    check_positive("n", n)
    check_positive("dim", dim)
    gaussian_mi(dim, rho)  # validates rho
    x = torch.randn(n, dim, generator=rng)
    z = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, dim, generator=rng)
    return x, z
