"""Stacked MNIST mode coverage (1000 modes) and sample quality as a DDP-safe torchmetrics ``Metric``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from mine_gan.metrics.digit_classifier import load_digit_classifier
from mine_gan.metrics.functional.stacked import (
    _stacked_compute,
    _stacked_update,
    has_features,
    reference_gaussian,
)
from mine_gan.validation import check_positive, check_unit_interval

__all__ = ["StackedModeCoverage"]


class StackedModeCoverage(Metric):
    r"""Modes covered out of ``10^C``, KL to uniform, and whether the samples are digits at all, for generated
    stacks of ``C`` digits (Table 1 of Belghazi et al., 2018; protocol of Metz et al., 2017).

    Each channel is classified alone by a single-digit classifier; the digits ``(d₁, d₂, d₃)`` name the
    mode ``100·d₁ + 10·d₂ + d₃``. A mode is covered when at least ``min_count`` samples land in it (one in
    the protocol, which draws 26,000 samples). The KL is that of the histogram of modes to the uniform
    distribution on all ``10^C`` modes, in nats:

    .. math:: \mathrm{KL}(p \,\|\, u) = \sum_k p_k \log(10^C p_k).

    The classifier labels noise too, so the count alone can read 900 modes for coloured noise. Beside it:
    ``confident``, the share of channels labelled with probability at least ``confidence``, and, given
    ``reference`` real digits, ``frechet``, the Fréchet distance between the classifier features of generated
    and real digits. Blurred digits pass the first; only the second separates them (figures in
    :mod:`mine_gan.metrics.functional.stacked`).

    By default the classifier is the project's own, trained at ``image_size`` on the training split of the
    5,000 shipped MNIST digits and cached (:func:`~mine_gan.metrics.digit_classifier.load_digit_classifier`);
    its accuracy on the 1,000 held-out digits is ``classifier_accuracy``. Pass ``classifier`` to use another
    one (e.g. one trained on all of MNIST for :class:`~mine_gan.data.StackedMNIST`).

    Args:
        image_size: side of the images classified (8, 16, 28, 32 or 64); for the default classifier.
        classifier: single-digit classifier ``(B, 1, H, W) -> (B, 10)`` logits for images in ``[-1, 1]``; it
            also needs ``embed`` and ``classify_features`` when ``reference`` is given.
        cache_dir: where the default classifier is cached; ``None`` for ``$MINE_GAN_CACHE`` or
            ``~/.cache/mine_gan``.
        seed: seed of the default classifier's training. Its digit split is fixed, so its held-out digits
            are those of :class:`~mine_gan.data.StackedMNIST5k` whatever either seed; keep it fixed across runs
            that are compared, so they are measured by the same classifier.
        num_channels: ``C``, digits per image.
        min_count: samples a mode needs to count as covered.
        min_accuracy: refuse a default classifier whose held-out accuracy is lower.
        confidence: top softmax probability from which a channel counts as confidently labelled.
        reference: ``(M, C', H, W)`` real images in ``[-1, 1]`` whose channels are the real digits the
            Fréchet distance compares with (e.g. the training digits); ``None`` to skip it.
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> from mine_gan.metrics import DigitClassifier
        >>> metric = StackedModeCoverage(classifier=DigitClassifier(), reference=torch.rand(50, 1, 16, 16))
        >>> metric.update(torch.rand(8, 3, 16, 16) * 2 - 1)
        >>> sorted(metric.compute())
        ['confident', 'frechet', 'kl', 'modes']
    """

    is_differentiable = False
    higher_is_better = None  # more modes and confident channels are better, a larger KL or distance is worse
    full_state_update = False

    counts: Tensor
    total: Tensor
    confident: Tensor
    channels: Tensor

    def __init__(
        self,
        image_size: int = 32,
        classifier: nn.Module | None = None,
        cache_dir: str | Path | None = None,
        seed: int = 0,
        num_channels: int = 3,
        min_count: int = 1,
        min_accuracy: float = 0.97,
        confidence: float = 0.9,
        reference: Tensor | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive("num_channels", num_channels)
        check_positive("min_count", min_count)
        check_unit_interval("confidence", confidence, closed_right=True)
        self.classifier_accuracy: float | None = None
        if classifier is None:
            classifier, self.classifier_accuracy = load_digit_classifier(
                image_size, cache_dir=cache_dir, seed=seed, min_accuracy=min_accuracy
            )
        self.classifier = classifier.eval().requires_grad_(False)
        if reference is not None and not has_features(classifier):
            raise ValueError(
                "`reference` needs a classifier with `embed` and `classify_features` methods, like DigitClassifier"
            )
        self.num_channels = num_channels
        self.num_modes = 10**num_channels
        self.min_count = min_count
        self.confidence = confidence
        self.add_state("counts", torch.zeros(self.num_modes, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("confident", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("channels", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.with_frechet = reference is not None
        if self.with_frechet:
            mean, cov = reference_gaussian(reference, self.classifier)
            self.register_buffer("reference_mean", mean, persistent=False)
            self.register_buffer("reference_cov", cov, persistent=False)
            dim = mean.shape[0]
            self.add_state("feature_sum", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("feature_outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")

    def train(self, mode: bool = True) -> StackedModeCoverage:
        # The classifier is a fixed measuring instrument: it stays in eval mode whatever its owner does.
        super().train(mode)
        self.classifier.eval()
        return self

    def update(self, images: Tensor) -> None:
        """Add ``(N, C, H, W)`` generated images in ``[-1, 1]``."""
        if images.ndim != 4 or images.shape[1] != self.num_channels:
            raise ValueError(
                f"`images` must be (N, {self.num_channels}, H, W) for num_channels={self.num_channels}, "
                f"got shape {tuple(images.shape)}"
            )
        sums = _stacked_update(images.detach(), self.classifier, self.num_modes, self.confidence, self.with_frechet)
        for name, value in sums.items():
            setattr(self, name, getattr(self, name) + value)

    def compute(self) -> dict[str, Tensor]:
        """``{"modes", "kl", "confident"}`` (and ``"frechet"`` with a reference) over every image since the last
        reset."""
        names = ["counts", "total", "confident", "channels"]
        if self.with_frechet:
            names += ["feature_sum", "feature_outer"]
        reference = (self.reference_mean, self.reference_cov) if self.with_frechet else None
        return _stacked_compute({n: getattr(self, n) for n in names}, self.min_count, reference)
