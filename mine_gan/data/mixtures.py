"""Mixtures of isotropic 2-D Gaussians: the mode-collapse benchmarks of Unrolled GAN, VEEGAN and PacGAN.

* ``"grid"``: 25 Gaussians centred on the 5×5 grid ``{-4, -2, 0, 2, 4}²`` (``scale=2``, ``std=0.05``), the
  2-D experiment of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018) also used by MINE
  (Belghazi et al., 2018, §5.1).
* ``"ring"``: 8 Gaussians evenly spaced on the unit circle (``scale=1``, ``std=0.01``), the ring of PacGAN
  (Lin et al., 2018, Table 1; its experiment configuration ``2DRing``). Unrolled GAN (Metz et al., 2017) used
  radius 2 and ``std=0.02``: pass ``scale`` and ``std`` for it.

Both defaults are PacGAN's, so the published Table 1 numbers apply to the default layouts.

Mixture weights are uniform. :func:`mixture_centers` is the one place where the layouts are defined;
:class:`mine_gan.metrics.ModeCoverage` takes ``datamodule.centers`` and ``datamodule.std``.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor

from mine_gan.data.sampled import SampledDataModule
from mine_gan.validation import check_choice, check_positive

__all__ = ["GaussianMixture", "Layout", "mixture_centers"]

Layout = Literal["grid", "ring"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
_DEFAULT_MODES = {"grid": 25, "ring": 8}
#: PacGAN's grid spacing / ring radius and component standard deviation, per layout.
_DEFAULT_SCALE = {"grid": 2.0, "ring": 1.0}
_DEFAULT_STD = {"grid": 0.05, "ring": 0.01}


def mixture_centers(layout: Layout = "grid", num_modes: int | None = None, scale: float | None = None) -> Tensor:
    """Centres of the mixture components, shape ``(K, 2)``.

    Args:
        layout: ``"grid"`` (a square grid centred on the origin, spacing ``scale``) or ``"ring"``
            (a circle of radius ``scale``, first centre on the positive x-axis).
        num_modes: ``K``; a perfect square for the grid. Defaults to 25 (grid) or 8 (ring).
        scale: grid spacing or ring radius; defaults to PacGAN's (2 for the grid, 1 for the ring).

    Example:
        >>> mixture_centers("grid")[[0, 1, 5, 24]]
        tensor([[-4., -4.],
                [-4., -2.],
                [-2., -4.],
                [ 4.,  4.]])
        >>> mixture_centers("ring", 4).round(decimals=4).abs()
        tensor([[1., 0.],
                [0., 1.],
                [1., 0.],
                [0., 1.]])
    """
    check_choice("layout", layout, LAYOUTS)
    num_modes = _DEFAULT_MODES[layout] if num_modes is None else num_modes
    scale = _DEFAULT_SCALE[layout] if scale is None else scale
    check_positive("num_modes", num_modes)
    check_positive("scale", scale)
    if layout == "grid":
        side = math.isqrt(num_modes)
        if side * side != num_modes:
            raise ValueError(f"`num_modes` must be a perfect square for layout='grid', got {num_modes}")
        axis = (torch.arange(side, dtype=torch.get_default_dtype()) - (side - 1) / 2) * scale
        return torch.cartesian_prod(axis, axis)
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    return (scale * torch.stack([angles.cos(), angles.sin()], dim=1)).to(torch.get_default_dtype())


class GaussianMixture(SampledDataModule):
    r"""Uniform mixture of ``K`` isotropic 2-D Gaussians; batches are ``(B, 2)`` tensors.

    .. math:: p(x) = \frac{1}{K} \sum_{k=1}^{K} \mathcal{N}(x;\, \mu_k,\, \sigma^2 I_2)

    Each training epoch holds ``num_samples`` fresh points (see :mod:`mine_gan.data.sampled`); the
    validation and test sets are fixed sets of ``num_val_samples`` points (2,500 by default: the
    evaluation size of the VEEGAN/PacGAN protocol).

    Args:
        layout: ``"grid"`` (25 modes, the paper's benchmark) or ``"ring"`` (8 modes).
        num_modes: number of components; defaults to 25 (grid) or 8 (ring).
        std: standard deviation ``σ`` of every component; defaults to PacGAN's, 0.05 (grid) or 0.01 (ring).
        scale: grid spacing or ring radius; defaults to PacGAN's, 2 (grid) or 1 (ring).
        num_samples: training points per epoch.
        batch_size: points per batch.
        num_val_samples: points in the validation set and in the test set.
        seed: seed of all draws; ``None``: the run's seed (:func:`~mine_gan.seeding.data_seed`).

    Example:
        >>> dm = GaussianMixture(num_samples=512, batch_size=128)
        >>> dm.dims, tuple(dm.centers.shape), dm.std
        ((2,), (25, 2), 0.05)
        >>> ring = GaussianMixture("ring")
        >>> ring.std, round(float(ring.centers.norm(dim=1).max()), 4)
        (0.01, 1.0)
        >>> next(iter(dm.train_dataloader())).shape
        torch.Size([128, 2])
    """

    def __init__(
        self,
        layout: Layout = "grid",
        num_modes: int | None = None,
        std: float | None = None,
        scale: float | None = None,
        num_samples: int = 100_000,
        batch_size: int = 256,
        num_val_samples: int = 2_500,
        seed: int | None = 0,
    ) -> None:
        super().__init__(num_samples, batch_size, num_val_samples, seed)
        check_choice("layout", layout, LAYOUTS)
        std = _DEFAULT_STD[layout] if std is None else std
        check_positive("std", std)
        self.save_hyperparameters()
        self.layout = layout
        self.std = float(std)
        self.centers = mixture_centers(layout, num_modes, scale)
        self.num_modes = self.centers.shape[0]

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """``n`` points of the mixture, shape ``(n, 2)``."""
        components = torch.randint(self.num_modes, (n,), generator=rng)
        noise = torch.randn(n, 2, generator=rng, dtype=self.centers.dtype)
        return self.centers[components] + self.std * noise
