"""Mode coverage of a generator of a 2-D Gaussian mixture, as a DDP-safe torchmetrics ``Metric``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from mine_gan.metrics.functional.modes import _mode_coverage_update, mode_histogram_summary
from mine_gan.validation import as_tensor, check_positive

__all__ = ["ModeCoverage"]


class ModeCoverage(Metric):
    r"""Modes covered, fraction of high-quality samples and KL to uniform, for samples of a mixture.

    PacGAN's protocol (Lin et al., 2018, Table 1), used in MINE §5.1 (see
    :mod:`mine_gan.metrics.functional.modes`): each sample goes to its nearest centre and is high quality
    within ``num_std`` standard deviations of it; a mode is captured when it holds at least ``min_count``
    high-quality samples (PacGAN: 1, of 2,500 samples drawn). The KL is PacGAN's reverse KL of the
    high-quality samples' mode histogram to the uniform one.

    .. math:: \mathrm{KL} = \sum_k p_k \log(K p_k),\quad p_k = \frac{\#\{\text{high-quality samples on mode } k\}}
              {\#\{\text{high-quality samples}\}}

    The states are integer counts summed over batches and processes (``dist_reduce_fx="sum"``), so the
    result under DDP equals the result on all samples at once.

    Args:
        centers: ``(K, D)`` mixture centres (``GaussianMixture.centers``).
        std: standard deviation of the components (``GaussianMixture.std``).
        num_std: high-quality radius in standard deviations.
        min_count: high-quality samples a mode needs to count as captured (PacGAN: 1).
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> from mine_gan.data import mixture_centers
        >>> metric = ModeCoverage(mixture_centers("ring"), std=0.01)
        >>> metric.update(mixture_centers("ring")[:3])
        >>> {k: round(float(v), 4) for k, v in metric.compute().items()}
        {'modes': 3.0, 'high_quality': 1.0, 'kl': 0.9808}
    """

    is_differentiable = False
    higher_is_better = None  # more modes and high-quality samples are better, a larger KL is worse
    full_state_update = False

    counts: Tensor
    total: Tensor

    def __init__(self, centers: Tensor, std: float, num_std: float = 3.0, min_count: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        centers = as_tensor("centers", centers)
        if centers.ndim != 2 or centers.shape[0] == 0:
            raise ValueError(f"`centers` must be a non-empty (K, D) tensor, got shape {tuple(centers.shape)}")
        check_positive("std", std)
        check_positive("num_std", num_std)
        check_positive("min_count", min_count)
        self.std = float(std)
        self.num_std = float(num_std)
        self.min_count = int(min_count)
        self.register_buffer("centers", centers.clone(), persistent=False)
        self.add_state("counts", torch.zeros(centers.shape[0], dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    @classmethod
    def from_datamodule(cls, datamodule: Any, **kwargs: Any) -> ModeCoverage:
        """Build from any data module with ``centers`` and ``std`` (e.g. :class:`~mine_gan.data.GaussianMixture`)."""
        return cls(datamodule.centers, datamodule.std, **kwargs)

    def update(self, samples: Tensor) -> None:
        """Add ``(N, D)`` generated samples."""
        counts, total = _mode_coverage_update(samples.detach(), self.centers, self.std, self.num_std)
        self.counts += counts
        self.total += total

    def compute(self) -> dict[str, Tensor]:
        """``{"modes", "high_quality", "kl"}`` over every sample seen since the last reset."""
        return mode_histogram_summary(self.counts, self.total, self.min_count)
