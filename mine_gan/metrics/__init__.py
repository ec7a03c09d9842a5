"""torchmetrics ``Metric``s, correct under DDP: mode coverage (2-D mixtures, stacked digits), whole-set MI."""

from mine_gan.metrics.data_modes import ModeMetric, mode_metric
from mine_gan.metrics.digit_classifier import DigitClassifier, load_digit_classifier, train_digit_classifier
from mine_gan.metrics.mode_coverage import ModeCoverage
from mine_gan.metrics.mutual_information import MutualInformation
from mine_gan.metrics.stacked_mode_coverage import StackedModeCoverage

__all__ = [
    "DigitClassifier",
    "ModeCoverage",
    "ModeMetric",
    "MutualInformation",
    "StackedModeCoverage",
    "load_digit_classifier",
    "mode_metric",
    "train_digit_classifier",
]
