"""InfoGAN's structured latent code ``c`` (Chen et al. 2016): its samples, entropy and ``Q``'s likelihood."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ContinuousCode", "LatentCode"]

ContinuousCode = Literal["uniform", "gaussian"]


class LatentCode:
    r"""InfoGAN's structured code ``c``: one-hot categorical groups followed by continuous dimensions.

    ``c = [onehot(k_1), …, onehot(k_m), u]`` with ``u ~ U(-1, 1)^d`` or ``N(0, I_d)``. The code's entropy
    ``H(c)`` and the log-likelihood of an auxiliary ``Q(c | x)`` give InfoGAN's variational lower bound
    ``I(x; c) ≥ H(c) + E[log Q(c | x)]`` (Chen et al. 2016, Lemma 5.1); continuous codes use a unit-variance
    Gaussian ``Q`` whose mean is the code head's output (the reparametrization makes it differentiable in
    ``G``).

    Args:
        categorical_dims: number of categories of each one-hot group.
        continuous_dim: number of continuous dimensions.
        continuous: their distribution.

    Example:
        >>> code = LatentCode([3], 1, "uniform")
        >>> code.dim, tuple(code.sample(4).shape)
        (4, (4, 4))
    """

    def __init__(self, categorical_dims: Sequence[int], continuous_dim: int, continuous: str) -> None:
        self.categorical_dims = [int(k) for k in categorical_dims]
        self.continuous_dim, self.continuous = int(continuous_dim), continuous
        self.dim = sum(self.categorical_dims) + self.continuous_dim

    def sample(self, n: int, device: torch.device | None = None, rng: torch.Generator | None = None) -> Tensor:
        """``n`` codes ``(n, dim)``, drawn from ``rng`` (default: the global stream)."""
        parts = [
            F.one_hot(torch.randint(k, (n,), device=device, generator=rng), k).to(torch.get_default_dtype())
            for k in self.categorical_dims
        ]
        if self.continuous_dim:
            shape = (n, self.continuous_dim)
            u = (
                torch.rand(shape, device=device, generator=rng) * 2 - 1
                if self.continuous == "uniform"
                else torch.randn(shape, device=device, generator=rng)
            )
            parts.append(u)
        return torch.cat(parts, dim=1) if parts else torch.zeros(n, 0, device=device)

    def entropy(self) -> float:
        """``H(c)`` in nats."""
        cont = math.log(2.0) if self.continuous == "uniform" else 0.5 * math.log(2 * math.pi * math.e)
        return sum(math.log(k) for k in self.categorical_dims) + self.continuous_dim * cont

    def log_likelihood(self, q_out: Tensor, code: Tensor) -> Tensor:
        """Mean ``log Q(c | x)`` over the batch, ``q_out`` being the code head's ``(N, dim)`` output."""
        total = q_out.new_zeros(())
        start = 0
        for k in self.categorical_dims:
            target = code[:, start : start + k].argmax(dim=1)
            total = total - F.cross_entropy(q_out[:, start : start + k], target)
            start += k
        if self.continuous_dim:
            sq = (code[:, start:] - q_out[:, start:]).pow(2).sum(dim=1)
            total = total - 0.5 * (sq + self.continuous_dim * math.log(2 * math.pi)).mean()
        return total

    def traversal_values(self, steps: int) -> Tensor:
        """Values a continuous dimension takes in a traversal: ``[-1, 1]`` (uniform) or ``[-2, 2]`` (Gaussian)."""
        edge = 1.0 if self.continuous == "uniform" else 2.0
        return torch.linspace(-edge, edge, steps)
