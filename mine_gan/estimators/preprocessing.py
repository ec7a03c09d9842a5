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
        self._mean: Tensor | None = None
        self._std: Tensor | None = None

    def fit(self, u: Tensor) -> MarginalTransform:
        """Fit on ``(N, D)`` training samples."""
        if self.kind == "rank_gauss":
            self._sorted = torch.sort(u, dim=0).values.T.contiguous()
        elif self.kind == "standardize":
            self._mean = u.mean(dim=0)
            self._std = u.std(dim=0).clamp_min(1e-12)
        return self

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
        not_above = torch.searchsorted(self._sorted, cols, right=True)
        # Mid-rank, kept strictly inside (0, 1).
        p = ((below + not_above).to(u.dtype) / 2).clamp(0.5, n - 0.5) / n
        return (math.sqrt(2.0) * torch.erfinv(2 * p - 1)).T.contiguous()
