"""Mode-collapse statistics: how many modes generated samples cover, and how evenly.

The 2-D protocol is PacGAN's (Lin et al., 2018, Table 1; used by MINE, Belghazi et al., 2018, §5.1), scored
on 2,500 generated samples: each sample goes to its nearest mixture centre and is *high quality* when it lies
within ``num_std`` (3) standard deviations of that centre; a mode is *captured* when at least one high-
quality sample falls on it (``min_count=1``: PacGAN's evaluation code counts the modes whose histogram bin
is non-zero). The *reverse KL* is :math:`\mathrm{KL}(p_G \| p_{data})` over the modes, :math:`p_G` the
histogram of the high-quality samples over the modes (the same histogram PacGAN's code scores) and
:math:`p_{data}` uniform, so a generator that puts all mass on one of 25 modes scores ``log 25 = 3.22``.
``min_count=20`` (of 2,500 samples) is a stricter count sometimes used instead; pass it explicitly.
The Stacked MNIST protocol (Metz et al., 2017) is in :mod:`mine_gan.metrics.functional.stacked`.

Each statistic is an ``_update`` (samples → counts; counts add up across batches and processes) and a
``_compute`` (counts → numbers), so the :class:`~torchmetrics.Metric` classes reduce exact counts under DDP.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mine_gan.validation import as_tensor, check_positive

__all__ = [
    "histogram_kl_to_uniform",
    "mode_coverage",
    "mode_histogram_summary",
]


def histogram_kl_to_uniform(counts: Tensor) -> Tensor:
    r"""KL divergence (nats) of the normalized histogram ``counts`` to the uniform distribution on its bins.

    .. math:: \mathrm{KL}(p \,\|\, u) = \sum_{k:\, p_k > 0} p_k \log(K p_k),
              \qquad p = \mathrm{counts} / \textstyle\sum \mathrm{counts}

    ``0`` for a flat histogram, ``log K`` when one bin holds everything, ``nan`` for an empty histogram
    (no distribution to compare).

    Example:
        >>> histogram_kl_to_uniform(torch.tensor([5., 5., 5., 5.]))
        tensor(0.)
        >>> torch.isclose(histogram_kl_to_uniform(torch.tensor([0., 7., 0., 0.])), torch.tensor(4.).log())
        tensor(True)
    """
    counts = counts.to(torch.float64)
    total = counts.sum()
    p = counts / total
    terms = torch.where(p > 0, p * torch.log(p * counts.numel()), torch.zeros_like(p))
    kl = terms.sum().clamp_min(0.0)  # rounding can leave -1e-17 for a flat histogram; KL is never negative
    return torch.where(total > 0, kl, torch.full_like(kl, math.nan)).to(torch.get_default_dtype())


def mode_histogram_summary(counts: Tensor, total: Tensor, min_count: int) -> dict[str, Tensor]:
    """``modes`` (bins with at least ``min_count``), ``high_quality`` (``counts.sum() / total``) and ``kl``
    (:func:`histogram_kl_to_uniform`) of a histogram of mode counts."""
    kept = counts.sum()
    return {
        "modes": (counts >= min_count).sum(),
        "high_quality": (kept / total).to(torch.get_default_dtype())
        if total > 0
        else torch.full((), math.nan, device=counts.device),
        "kl": histogram_kl_to_uniform(counts),
    }


def _mode_coverage_update(samples: Tensor, centers: Tensor, std: float, num_std: float) -> tuple[Tensor, Tensor]:
    """High-quality samples per centre ``(K,)`` and the number of samples."""
    if samples.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"`samples` must be (N, {centers.shape[1]}) like the centres, got shape {tuple(samples.shape)}"
        )
    distances = torch.cdist(samples.to(centers.dtype), centers)
    nearest_distance, nearest = distances.min(dim=1)
    high_quality = nearest_distance <= num_std * std
    counts = torch.bincount(nearest[high_quality], minlength=centers.shape[0])
    return counts, torch.tensor(samples.shape[0], device=samples.device)


def mode_coverage(
    samples: Tensor, centers: Tensor, std: float, *, num_std: float = 3.0, min_count: int = 1
) -> dict[str, Tensor]:
    r"""Mode coverage of samples from a generator of a Gaussian mixture (2-D protocol, module docstring).

    Args:
        samples: ``(N, D)`` generated points.
        centers: ``(K, D)`` mixture centres, e.g. ``GaussianMixture.centers``.
        std: standard deviation of the components.
        num_std: a sample is high quality within ``num_std · std`` of its nearest centre.
        min_count: high-quality samples a mode needs to count as captured (PacGAN: 1).

    Returns:
        ``modes``: captured modes (int tensor); ``high_quality``: fraction of high-quality samples;
        ``kl``: :math:`\mathrm{KL}(p \,\|\, \mathrm{uniform})` in nats, ``p`` the histogram of high-quality
        samples over the modes (``nan`` when none is high quality).

    Example:
        >>> centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
        >>> out = mode_coverage(torch.cat([torch.zeros(39, 2), torch.tensor([[10.0, 0.25]])]), centers, std=0.1)
        >>> int(out["modes"]), float(out["high_quality"]), round(float(out["kl"]), 4)
        (2, 1.0, 0.5762)
        >>> int(mode_coverage(torch.zeros(40, 2), centers, std=0.1, min_count=41)["modes"])
        0
    """
    centers = as_tensor("centers", centers)
    check_positive("std", std)
    check_positive("num_std", num_std)
    check_positive("min_count", min_count)
    counts, total = _mode_coverage_update(as_tensor("samples", samples), centers, std, num_std)
    return mode_histogram_summary(counts, total, min_count)
