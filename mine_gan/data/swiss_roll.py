"""The 2-D Swiss roll: a curved one-dimensional manifold with noise, a classic toy density for GANs."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mine_gan.data.sampled import SampledDataModule
from mine_gan.validation import check_positive

__all__ = ["SwissRoll"]


class SwissRoll(SampledDataModule):
    r"""Points on a noisy 2-D spiral; batches are ``(B, 2)`` tensors.

    With the default ``turns=1.5`` this is :func:`sklearn.datasets.make_swiss_roll` (``t ∈ [1.5π, 4.5π]``)
    seen in its (x, z) plane:

    .. math:: t \sim \mathcal{U}(1.5\pi,\ 1.5\pi + 2\pi\,\mathrm{turns}),\qquad
              x = \mathrm{scale}\cdot\big(t\cos t,\ t\sin t\big) + \mathrm{scale}\cdot\sigma\,\varepsilon,
              \quad \varepsilon \sim \mathcal{N}(0, I_2)

    The defaults (``noise=0.25``, ``scale=1/7.5``) are the usual GAN toy setting (points within about
    ±2 of the origin).

    Args:
        noise: standard deviation ``σ`` of the Gaussian noise, before scaling.
        turns: number of turns of the spiral.
        scale: factor applied to the whole roll.
        num_samples: training points per epoch (fresh each epoch).
        batch_size: points per batch.
        num_val_samples: points in the validation set and in the test set.
        seed: seed of all draws; ``None``: the run's seed (:func:`~mine_gan.seeding.data_seed`).

    Example:
        >>> dm = SwissRoll(num_samples=256, batch_size=64)
        >>> x = next(iter(dm.train_dataloader()))
        >>> x.shape, bool(x.abs().max() < 3)
        (torch.Size([64, 2]), True)
    """

    def __init__(
        self,
        noise: float = 0.25,
        turns: float = 1.5,
        scale: float = 1 / 7.5,
        num_samples: int = 100_000,
        batch_size: int = 256,
        num_val_samples: int = 2_500,
        seed: int | None = 0,
    ) -> None:
        super().__init__(num_samples, batch_size, num_val_samples, seed)
        check_positive("noise", noise, strict=False)
        check_positive("turns", turns)
        check_positive("scale", scale)
        self.save_hyperparameters()
        self.noise = float(noise)
        self.turns = float(turns)
        self.scale = float(scale)

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """``n`` points of the roll, shape ``(n, 2)``."""
        start = 1.5 * math.pi
        t = start + 2 * math.pi * self.turns * torch.rand(n, generator=rng)
        roll = torch.stack([t * t.cos(), t * t.sin()], dim=1)
        return self.scale * (roll + self.noise * torch.randn(n, 2, generator=rng))
