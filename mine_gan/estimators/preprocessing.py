"""Marginal preprocessing for :func:`mine_gan.estimate_mi`.

Mutual information is invariant to invertible transforms of each variable, but a neural critic is not
invariant to scale: Cauchy tails or ``sinh`` distortions put most samples in a sliver of the input range
and training stalls. Transforming each coordinate separately preserves ``I(X; Z)`` for any monotone
per-coordinate distortion, so it is safe to do before estimation.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

__all__ = ["MarginalTransform", "Preprocess"]

Preprocess = Literal["rank_gauss", "standardize", "none"]


class MarginalTransform:
    r"""Per-coordinate transform fitted on training samples and applied to any samples.

    - ``"rank_gauss"`` (copula transform): each coordinate through its empirical CDF, then the
      standard normal quantile, ``u ↦ Φ⁻¹(F̂(u))``. Exactly undoes any strictly increasing distortion
      (``x³``, ``sinh``, heavy tails), leaving Gaussian marginals. Ties get their mid-rank.
    - ``"standardize"``: ``(u − mean) / std``; keeps the shape of the marginals.
    - ``"none"``: identity.

    .. math:: \tilde u = \Phi^{-1}\big(\hat F_{\text{train}}(u)\big)

    Example:
        >>> import torch
        >>> t = MarginalTransform("rank_gauss").fit(torch.tensor([[1.0], [10.0], [1000.0]]))
        >>> t.transform(torch.tensor([[10.0]]))
        tensor([[0.]])
    """

    def __init__(self, kind: Preprocess = "rank_gauss") -> None:
        if kind not in ("rank_gauss", "standardize", "none"):
            raise ValueError(f"`preprocess` must be one of ['rank_gauss', 'standardize', 'none'], got {kind!r}")
        self.kind = kind
        self._sorted: Tensor | None = None
        self._ties = True
        self._mean: Tensor | None = None
        self._std: Tensor | None = None

    def fit(self, u: Tensor) -> MarginalTransform:
        """Fit on ``(N, D)`` training samples: one O(N log N) sort per coordinate."""
        self._fit(u)
        return self

    def _fit(self, u: Tensor) -> Tensor | None:
        if self.kind == "rank_gauss":
            # Rows of a (D, N) contiguous tensor sort faster than columns of (N, D).
            self._sorted, order = torch.sort(u.T.contiguous(), dim=1)
            self._ties = bool((self._sorted[:, 1:] == self._sorted[:, :-1]).any())
            return order
        if self.kind == "standardize":
            self._mean = u.mean(dim=0)
            self._std = u.std(dim=0).clamp_min(1e-12)
        return None

    def fit_transform(self, u: Tensor) -> Tensor:
        """``fit(u).transform(u)``, with the training ranks read off the sort instead of searched for.

        Example:
            >>> import torch
            >>> u = torch.randn(100, 2)
            >>> torch.equal(MarginalTransform().fit_transform(u), MarginalTransform().fit(u).transform(u))
            True
        """
        order = self._fit(u)
        if order is None or self._ties:
            return self.transform(u)
        n = u.shape[0]
        ranks = torch.empty_like(order).scatter_(1, order, torch.arange(n, device=u.device).expand_as(order))
        # A value found once at sorted position i has mid-rank i + 1/2, as in transform().
        return self._gauss((2 * ranks + 1).to(u.dtype) / 2, n)

    def transform(self, u: Tensor) -> Tensor:
        """Apply to ``(M, D)`` samples (training or held-out)."""
        if self.kind == "none":
            return u
        if self.kind == "standardize":
            assert self._mean is not None and self._std is not None, "call fit() first"
            return (u - self._mean) / self._std
        assert self._sorted is not None, "call fit() first"
        n = self._sorted.shape[1]
        cols = u.T.contiguous()
        below = torch.searchsorted(self._sorted, cols, right=False)
        if self._ties:
            not_above = torch.searchsorted(self._sorted, cols, right=True)
        else:
            # Without ties at most one training value equals a query: one search instead of two.
            not_above = below + (self._sorted.gather(1, below.clamp(max=n - 1)) == cols)
        return self._gauss((below + not_above).to(u.dtype) / 2, n)

    @staticmethod
    def _gauss(mid_rank: Tensor, n: int) -> Tensor:
        """``(D, M)`` mid-ranks among ``n`` training values to ``(M, D)`` normal quantiles."""
        p = mid_rank.clamp(0.5, n - 0.5) / n  # strictly inside (0, 1)
        return (math.sqrt(2.0) * torch.erfinv(2 * p - 1)).T.contiguous()
