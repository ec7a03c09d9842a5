"""The mode-coverage metric that fits a data module, chosen in one place for the GAN modules and the callbacks."""

from __future__ import annotations

from typing import Any, NamedTuple

from torchmetrics import Metric

from mine_gan.contracts import MixtureData, StackedDigitData
from mine_gan.metrics.mode_coverage import ModeCoverage
from mine_gan.metrics.stacked_mode_coverage import StackedModeCoverage

__all__ = ["ModeMetric", "mode_metric"]

#: samples drawn by each protocol: VEEGAN/PacGAN for mixtures, Metz et al. for Stacked MNIST
MIXTURE_SAMPLES, STACKED_SAMPLES = 2_500, 26_000


class ModeMetric(NamedTuple):
    """A mode-coverage metric and the number of generated samples its protocol scores."""

    metric: Metric
    num_samples: int


def mode_metric(datamodule: Any, x_shape: tuple[int, ...], *, stacked: bool = True) -> ModeMetric | None:
    """The mode coverage of samples ``(N, *x_shape)`` of a model trained on ``datamodule``, or ``None``.

    * A :class:`~mine_gan.contracts.MixtureData` (``centers``, ``std``): :class:`ModeCoverage`, 2,500 samples.
    * A :class:`~mine_gan.contracts.StackedDigitData` with ``num_classes = 10^C`` for samples of ``C ≥ 2``
      channels ``(C, S, S)``: :class:`StackedModeCoverage` with the project's digit classifier at size ``S``,
      26,000 samples. The classifier's training seed is the metric's default, never the run's: every run
      is scored by the same classifier.
    * Anything else: ``None``.

    Args:
        datamodule: the run's data module (``None`` allowed).
        x_shape: shape of one generated sample.
        stacked: consider stacked digits (loading, or training once and caching, the digit classifier).

    Example:
        >>> from mine_gan.data import GaussianMixture
        >>> found = mode_metric(GaussianMixture(layout="ring"), (2,))
        >>> type(found.metric).__name__, found.num_samples
        ('ModeCoverage', 2500)
        >>> mode_metric(None, (2,)) is None
        True
    """
    if isinstance(datamodule, MixtureData):
        return ModeMetric(ModeCoverage.from_datamodule(datamodule), MIXTURE_SAMPLES)
    if stacked and isinstance(datamodule, StackedDigitData) and len(x_shape) == 3:
        channels, size = x_shape[0], x_shape[-1]
        if channels >= 2 and datamodule.num_classes == 10**channels:
            return ModeMetric(StackedModeCoverage(image_size=size, num_channels=channels), STACKED_SAMPLES)
    return None
