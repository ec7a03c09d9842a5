"""Invertible maps that mix coordinates: ``I(f(X); g(Z)) = I(X; Z)``, so the truth survives them.

Mutual information is unchanged by any bijection of ``x`` and any bijection of ``z`` (Cover & Thomas,
eq. 2.117 and its continuous analogue), while an estimator's critic sees a harder function. Per-coordinate
monotone maps are undone exactly by ``estimate_mi``'s ``preprocess="rank_gauss"``; the maps here mix
coordinates, so nothing undoes them. Each has fixed random parameters drawn from a generator, ``__call__``
and ``inverse``. ``benchmarks/estimate_mi_invariance.py`` pushes correlated Gaussians through them.

- :class:`RandomRotation`: a Haar-random orthogonal matrix (linear mixing).
- :class:`Spiral`: a rotation whose angle grows with the radius ``|v|`` (non-linear, norm-preserving).
- :class:`CouplingFlow`: affine coupling layers (Dinh et al. 2017, RealNVP, eq. 4–5) with fixed random
  weights, each followed by a random rotation (a small invertible network).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor

from mine_gan.validation import check_choice, check_positive

__all__ = ["MIXING_MAPS", "CouplingFlow", "MixingMap", "RandomRotation", "Spiral", "mixing_map"]

MixingMap = Literal["rotation", "spiral", "coupling"]
MIXING_MAPS: tuple[str, ...] = get_args(MixingMap)


def _rotation(dim: int, rng: torch.Generator | None) -> Tensor:
    """A Haar-random ``(dim, dim)`` orthogonal matrix: QR of a Gaussian matrix with the signs of R fixed."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=rng, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).to(torch.get_default_dtype())


class RandomRotation:
    r"""``v ↦ Q v`` with ``Q`` Haar-random orthogonal.

    Example:
        >>> rotate = RandomRotation(3, torch.Generator().manual_seed(0))
        >>> v = torch.randn(4, 3)
        >>> torch.allclose(rotate.inverse(rotate(v)), v, atol=1e-6)
        True
    """

    def __init__(self, dim: int, rng: torch.Generator | None = None) -> None:
        check_positive("dim", dim)
        self.matrix = _rotation(dim, rng)

    def __call__(self, v: Tensor) -> Tensor:
        return v @ self.matrix.T

    def inverse(self, y: Tensor) -> Tensor:
        return y @ self.matrix


class Spiral:
    r"""A rotation whose angle depends on the radius: ``v ↦ B R(s·|v|) Bᵀ v``.

    ``B`` is a random orthonormal basis and ``R(θ)`` rotates the coordinate pairs ``(2k, 2k+1)`` of that
    basis by ``ω_k θ`` (``ω_k`` uniform in ``[0.5, 1]``; an odd last coordinate stays). The map keeps
    ``|v|``, so ``|v|`` and hence the angle can be read back from the image: it is a bijection of
    ``R^d`` (``d ≥ 2``), smooth away from the origin.

    .. math:: f(v) = B\,R\big(s\,\lVert v\rVert\big)\,B^\top v

    Args:
        dim: ``d``, at least 2.
        turns_per_unit: ``s / 2π``, turns per unit of radius; the default 0.5 turns points at radius
            ``r`` and ``r + 1`` half a turn apart.
        rng: draws ``B`` and ``ω``.

    Example:
        >>> spiral = Spiral(2, rng=torch.Generator().manual_seed(0))
        >>> v = torch.randn(5, 2)
        >>> y = spiral(v)
        >>> torch.allclose(y.norm(dim=1), v.norm(dim=1), atol=1e-6), torch.allclose(spiral.inverse(y), v, atol=1e-5)
        (True, True)
    """

    def __init__(self, dim: int, turns_per_unit: float = 0.5, rng: torch.Generator | None = None) -> None:
        if dim < 2:
            raise ValueError(f"`dim` must be at least 2 for a Spiral, got {dim}")
        check_positive("turns_per_unit", turns_per_unit)
        self.basis = _rotation(dim, rng)
        self.speed = 2 * math.pi * turns_per_unit * (0.5 + 0.5 * torch.rand(dim // 2, generator=rng))

    def _turn(self, v: Tensor, sign: float) -> Tensor:
        u = v @ self.basis  # coordinates in the basis B (columns of B)
        angle = sign * v.norm(dim=1, keepdim=True) * self.speed  # (N, d // 2)
        pairs = u[:, : 2 * self.speed.numel()].unflatten(1, (-1, 2))
        a, b = pairs[..., 0], pairs[..., 1]
        cos, sin = torch.cos(angle), torch.sin(angle)
        turned = torch.stack([cos * a - sin * b, sin * a + cos * b], dim=-1).flatten(1)
        return torch.cat([turned, u[:, turned.shape[1] :]], dim=1) @ self.basis.T

    def __call__(self, v: Tensor) -> Tensor:
        return self._turn(v, 1.0)

    def inverse(self, y: Tensor) -> Tensor:
        return self._turn(y, -1.0)  # |y| = |v|: the same angle, turned back


class CouplingFlow:
    r"""A small invertible network: ``layers`` affine couplings with fixed random weights, each then rotated.

    A coupling keeps the first ``⌊d/2⌋`` coordinates ``a`` and maps the rest ``b`` to
    ``b ⊙ exp(s(a)) + t(a)``, with ``s = scale · tanh(·)`` and ``t`` one-hidden-layer tanh networks
    (Dinh et al. 2017, eq. 4–5); a random rotation after each layer mixes every coordinate into the next.

    .. math:: b' = b \odot e^{s(a)} + t(a), \qquad v' = Q\,[a; b']

    Args:
        dim: ``d``, at least 2.
        layers: couplings.
        hidden: width of ``s`` and ``t``'s hidden layer.
        scale: the largest log-scale ``|s|`` (keeps the map well conditioned).
        rng: draws every weight.

    Example:
        >>> flow = CouplingFlow(4, rng=torch.Generator().manual_seed(0))
        >>> v = torch.randn(6, 4)
        >>> torch.allclose(flow.inverse(flow(v)), v, atol=1e-5)
        True
    """

    def __init__(
        self, dim: int, layers: int = 3, hidden: int = 32, scale: float = 1.0, rng: torch.Generator | None = None
    ) -> None:
        if dim < 2:
            raise ValueError(f"`dim` must be at least 2 for a CouplingFlow, got {dim}")
        check_positive("layers", layers)
        check_positive("hidden", hidden)
        check_positive("scale", scale)
        self.split, self.scale = dim // 2, scale
        rest = dim - self.split

        def weights(rows: int, cols: int, gain: float) -> Tensor:
            return gain * torch.randn(rows, cols, generator=rng) / math.sqrt(cols)

        self.layers = [
            dict(
                w_in=weights(2 * hidden, self.split, 2.0),
                b_in=torch.randn(2 * hidden, generator=rng),
                w_s=weights(rest, hidden, 1.0),
                w_t=weights(rest, hidden, 2.0),
                rotation=_rotation(dim, rng),
            )
            for _ in range(layers)
        ]

    def _shift_scale(self, a: Tensor, layer: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        h = torch.tanh(a @ layer["w_in"].T + layer["b_in"])
        h_s, h_t = h.chunk(2, dim=1)
        return self.scale * torch.tanh(h_s @ layer["w_s"].T), h_t @ layer["w_t"].T

    def __call__(self, v: Tensor) -> Tensor:
        for layer in self.layers:
            a, b = v[:, : self.split], v[:, self.split :]
            log_scale, shift = self._shift_scale(a, layer)
            v = torch.cat([a, b * log_scale.exp() + shift], dim=1) @ layer["rotation"].T
        return v

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = y @ layer["rotation"]
            a, b = y[:, : self.split], y[:, self.split :]
            log_scale, shift = self._shift_scale(a, layer)
            y = torch.cat([a, (b - shift) * (-log_scale).exp()], dim=1)
        return y


def mixing_map(name: MixingMap, dim: int, rng: torch.Generator | None = None) -> RandomRotation | Spiral | CouplingFlow:
    """The map called ``name`` (one of :data:`MIXING_MAPS`) on ``R^dim`` with parameters drawn from ``rng``.

    Example:
        >>> f = mixing_map("spiral", 3, torch.Generator().manual_seed(0))
        >>> type(f).__name__
        'Spiral'
    """
    check_choice("name", name, MIXING_MAPS)
    if name == "rotation":
        return RandomRotation(dim, rng)
    if name == "spiral":
        return Spiral(dim, rng=rng)
    return CouplingFlow(dim, rng=rng)
