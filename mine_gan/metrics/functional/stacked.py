r"""Stacked-digit statistics with sample quality beside the mode count (Stacked MNIST protocol, Metz et al.,
2017; Table 1 of Belghazi et al., 2018).

A digit classifier names a digit for any image, so 26,000 stacks of noise fill most of the 1,000 modes: the
mode count alone measures the spread of the classifier's labels, not whether digits were generated. Two
numbers say whether they were:

* **confident fraction**: the share of generated channels whose top softmax probability is at least
  ``confidence`` (0.9). With the project's classifier at 28×28, held-out real digits score 0.96 and uniform
  noise 0.22 (``experiments/stacked_digits/reference.py``), but how confidently a classifier labels noise is its
  own quirk: another small CNN on the same digits labelled 92 % of noise channels confidently. Digits blurred
  by a 3×3 mean score 0.93 and fill all 1,000 modes.
* **Fréchet digit distance**: the Fréchet distance between Gaussians fitted to the classifier's penultimate
  features of the generated channels and of real digits, FID (Heusel et al., 2017) in a digit classifier's
  feature space (the classifier needs ``embed`` and ``classify_features`` methods, like
  :class:`~mine_gan.metrics.DigitClassifier`). Against the training digits, held-out real stacks score
  3.2–3.4, the same stacks blurred 118–119, uniform noise 1,686–1,687 (seeds 0–2 of the reference script): it
  tells sharp digits from blurred ones and from noise.

Each statistic is an ``_update`` (images → sums that add up across batches and processes) and a ``_compute``
(sums → numbers), so :class:`~mine_gan.metrics.StackedModeCoverage` reduces exact sums under DDP.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mine_gan.metrics.functional.modes import mode_histogram_summary
from mine_gan.validation import check_positive, check_unit_interval

__all__ = [
    "feature_moments",
    "frechet_distance",
    "gaussian_from_moments",
    "has_features",
    "reference_gaussian",
    "stacked_digit_predictions",
    "stacked_digit_statistics",
    "stacked_modes",
]


def _check_images(images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"`images` must be (N, C, H, W), got {shape}")


def _channels(images: Tensor) -> Tensor:
    """``(N, C, H, W)`` stacks → ``(N·C, 1, H, W)`` single digits, channel by channel."""
    n, c, h, w = images.shape
    return images.reshape(n * c, 1, h, w)


def has_features(classifier: nn.Module) -> bool:
    """Whether ``classifier`` exposes ``embed`` (features) and ``classify_features`` (their logits), like
    :class:`~mine_gan.metrics.DigitClassifier`: what the Fréchet distance needs."""
    return callable(getattr(classifier, "embed", None)) and callable(getattr(classifier, "classify_features", None))


def _predict(logits: Tensor, shape: torch.Size) -> tuple[Tensor, Tensor]:
    confidence, digits = logits.softmax(dim=1).max(dim=1)
    return digits.reshape(shape), confidence.reshape(shape)


@torch.no_grad()
def stacked_digit_predictions(images: Tensor, classifier: nn.Module) -> tuple[Tensor, Tensor]:
    """Each channel of ``(N, C, H, W)`` stacks classified alone: digits ``(N, C)`` and the classifier's
    confidence in them (top softmax probability) ``(N, C)``.

    Example:
        >>> from mine_gan.metrics import DigitClassifier
        >>> digits, confidence = stacked_digit_predictions(torch.zeros(4, 3, 16, 16), DigitClassifier())
        >>> digits.shape, confidence.shape, bool((confidence >= 0.1).all() and (confidence <= 1).all())
        (torch.Size([4, 3]), torch.Size([4, 3]), True)
    """
    _check_images(images)
    return _predict(classifier(_channels(images)), images.shape[:2])


def stacked_modes(digits: Tensor) -> Tensor:
    """Mode of each stack from its digits ``(N, C) → (N,)``, read as a base-10 number (``100·d₁ + 10·d₂ + d₃``).

    Example:
        >>> stacked_modes(torch.tensor([[4, 2, 7], [0, 0, 9]]))
        tensor([427,   9])
    """
    place = 10 ** torch.arange(digits.shape[1] - 1, -1, -1, device=digits.device)
    return (digits * place).sum(dim=1)


def feature_moments(features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Sums that add up across batches and processes: ``Σ f`` ``(D,)``, ``Σ f fᵀ`` ``(D, D)`` (float64), count."""
    f = features.to(torch.float64)
    return f.sum(dim=0), f.T @ f, torch.tensor(f.shape[0], device=f.device)


def gaussian_from_moments(total: Tensor, outer: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
    r"""Mean and unbiased covariance from :func:`feature_moments`' sums.

    .. math:: \hat\mu = \tfrac{1}{n}\textstyle\sum f, \qquad
              \hat\Sigma = \tfrac{1}{n - 1}\big(\textstyle\sum f f^\top - n\,\hat\mu\hat\mu^\top\big)

    Example:
        >>> f = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
        >>> mean, cov = gaussian_from_moments(*feature_moments(f))
        >>> torch.allclose(cov, torch.cov(f.T).double()), mean.tolist()
        (True, [2.0, 2.0])
    """
    n = count.to(torch.float64)
    if int(count) < 2:
        raise ValueError(f"a covariance needs at least 2 feature vectors, got {int(count)}")
    mean = total / n
    return mean, (outer - n * torch.outer(mean, mean)) / (n - 1)


def frechet_distance(mean1: Tensor, cov1: Tensor, mean2: Tensor, cov2: Tensor) -> Tensor:
    r"""Fréchet (2-Wasserstein) distance between ``N(mean1, cov1)`` and ``N(mean2, cov2)``, squared, as in FID.

    .. math:: d^2 = \lVert \mu_1 - \mu_2 \rVert^2
              + \operatorname{tr}\big(\Sigma_1 + \Sigma_2 - 2\,(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2})^{1/2}\big)

    The matrix square roots come from symmetric eigendecompositions in float64 (eigenvalues rounded below zero
    count as zero), so the result is exact for commuting covariances and never complex.

    Example:
        >>> eye = torch.eye(2, dtype=torch.float64)
        >>> float(frechet_distance(torch.zeros(2), eye, torch.tensor([3.0, 4.0]), 4 * eye))  # 25 + 2·(2 − 1)²
        27.0
    """
    mean1, mean2 = mean1.to(torch.float64), mean2.to(torch.float64)
    cov1, cov2 = cov1.to(torch.float64), cov2.to(torch.float64)
    values, vectors = torch.linalg.eigh(cov1)
    root1 = vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
    middle = root1 @ cov2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    return ((mean1 - mean2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_root).clamp_min(0)


@torch.no_grad()
def _stacked_update(
    images: Tensor, classifier: nn.Module, num_modes: int, confidence: float, with_features: bool
) -> dict[str, Tensor]:
    """Sums of one batch: mode ``counts`` ``(num_modes,)``, ``total`` stacks, ``confident`` and ``channels``
    counts, and, ``with_features``, the :func:`feature_moments` of the channels' classifier features."""
    _check_images(images)
    # Samples come in the GAN's dtype (float64, bfloat16 under `--trainer.precision`); the classifier has its own.
    images = images.to(next(classifier.parameters()).dtype)
    features = classifier.embed(_channels(images)) if with_features else None
    # One pass through the classifier's body serves both the labels and the Fréchet features.
    logits = classifier.classify_features(features) if features is not None else classifier(_channels(images))
    digits, top = _predict(logits, images.shape[:2])
    device = images.device
    state = {
        "counts": torch.bincount(stacked_modes(digits), minlength=num_modes),
        "total": torch.tensor(images.shape[0], device=device),
        "confident": (top >= confidence).sum(),
        "channels": torch.tensor(top.numel(), device=device),
    }
    if features is not None:
        state["feature_sum"], state["feature_outer"], _ = feature_moments(features)
    return state


def _stacked_compute(
    state: dict[str, Tensor], min_count: int, reference: tuple[Tensor, Tensor] | None
) -> dict[str, Tensor]:
    """``modes``, ``kl``, ``confident`` and, given the real digits' ``(mean, cov)``, ``frechet``, from the sums."""
    summary = mode_histogram_summary(state["counts"], state["total"], min_count)
    channels = state["channels"]
    out = {
        "modes": summary["modes"],
        "kl": summary["kl"],
        "confident": (state["confident"] / channels).to(torch.get_default_dtype())
        if channels > 0
        else torch.full((), math.nan),
    }
    if reference is not None:
        mean, cov = gaussian_from_moments(state["feature_sum"], state["feature_outer"], channels)
        out["frechet"] = frechet_distance(mean, cov, *reference).to(torch.get_default_dtype())
    return out


def reference_gaussian(images: Tensor, classifier: nn.Module) -> tuple[Tensor, Tensor]:
    """Mean and covariance of the classifier features of real digits, ``(M, C, H, W)`` (each channel a digit)."""
    _check_images(images)
    with torch.no_grad():
        return gaussian_from_moments(*feature_moments(classifier.embed(_channels(images))))


def stacked_digit_statistics(
    images: Tensor,
    classifier: nn.Module,
    *,
    min_count: int = 1,
    confidence: float = 0.9,
    reference: Tensor | None = None,
) -> dict[str, Tensor]:
    """Mode coverage and sample quality of generated stacks of digits (module docstring).

    Args:
        images: ``(N, C, H, W)`` generated stacks in ``[-1, 1]``, usually ``C = 3``.
        classifier: single-digit classifier ``(B, 1, H, W) → (B, 10)`` logits, with ``embed`` and
            ``classify_features`` when ``reference`` is given (:func:`has_features`).
        min_count: samples a mode needs to count as covered (1 in the protocol).
        confidence: a channel is confidently labelled when its top softmax probability is at least this.
        reference: ``(M, C', H, W)`` real digits for the Fréchet distance; ``None`` to skip it.

    Returns:
        ``modes`` (of ``10^C``), ``kl`` of the mode histogram to uniform (nats), ``confident`` (fraction of
        channels) and, with ``reference``, ``frechet``.

    Example:
        >>> from mine_gan.metrics import DigitClassifier
        >>> out = stacked_digit_statistics(torch.zeros(5, 3, 16, 16), DigitClassifier())
        >>> int(out["modes"]), sorted(out)  # five identical stacks: one mode
        (1, ['confident', 'kl', 'modes'])
    """
    _check_images(images)
    check_positive("min_count", min_count)
    check_unit_interval("confidence", confidence, closed_right=True)
    if reference is not None and not has_features(classifier):
        raise ValueError("`reference` needs a classifier with `embed` and `classify_features` methods")
    ref = reference_gaussian(reference, classifier) if reference is not None else None
    state = _stacked_update(images, classifier, 10 ** images.shape[1], confidence, ref is not None)
    return _stacked_compute(state, min_count, ref)
