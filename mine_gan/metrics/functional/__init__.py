"""Pure functions behind the metrics (torchmetrics style: the classes only accumulate and call these)."""

from mine_gan.metrics.functional.modes import histogram_kl_to_uniform, mode_coverage, mode_histogram_summary
from mine_gan.metrics.functional.stacked import (
    frechet_distance,
    stacked_digit_predictions,
    stacked_digit_statistics,
    stacked_modes,
)

__all__ = [
    "frechet_distance",
    "histogram_kl_to_uniform",
    "mode_coverage",
    "mode_histogram_summary",
    "stacked_digit_predictions",
    "stacked_digit_statistics",
    "stacked_modes",
]
