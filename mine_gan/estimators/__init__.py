"""Statistics networks, the MINE module and ``estimate_mi``."""

from mine_gan.estimators.critics import (
    ConcatCritic,
    ConvCritic,
    SeparableCritic,
    joint_and_marginal_scores,
    pairwise_scores,
)
from mine_gan.estimators.estimate import MIEstimate, estimate_mi, heldout_estimate
from mine_gan.estimators.mine import MINE, Bound, Marginal
from mine_gan.estimators.preprocessing import MarginalTransform, Preprocess
from mine_gan.estimators.regularizer import MIRegularizer
from mine_gan.estimators.shared import SharedEstimatorProvider, find_shared_estimator
from mine_gan.estimators.training import PlateauStopper, train_estimator

__all__ = [
    "MINE",
    "Bound",
    "ConcatCritic",
    "ConvCritic",
    "MIEstimate",
    "MIRegularizer",
    "Marginal",
    "MarginalTransform",
    "PlateauStopper",
    "Preprocess",
    "SeparableCritic",
    "SharedEstimatorProvider",
    "estimate_mi",
    "find_shared_estimator",
    "heldout_estimate",
    "joint_and_marginal_scores",
    "pairwise_scores",
    "train_estimator",
]
