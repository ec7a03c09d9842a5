"""Pure functions behind the metrics (torchmetrics style: the classes only accumulate and call these)."""

from mine_gan.metrics.functional.modes import (
    histogram_kl_to_uniform,
    mode_coverage,
    mode_histogram_summary,
    stacked_mode_coverage,
    stacked_mode_labels,
)

__all__ = [
    "histogram_kl_to_uniform",
    "mode_coverage",
    "mode_histogram_summary",
    "stacked_mode_coverage",
    "stacked_mode_labels",
]
