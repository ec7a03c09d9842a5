"""mine_gan: Mutual Information Neural Estimation (Belghazi et al., ICML 2018) for GANs and any PyTorch model."""

from mine_gan.estimators import MINE, ConcatCritic, ConvCritic, MIEstimate, MIRegularizer, SeparableCritic, estimate_mi

__version__ = "0.1.0"

__all__ = [
    "MINE",
    "ConcatCritic",
    "ConvCritic",
    "MIEstimate",
    "MIRegularizer",
    "SeparableCritic",
    "__version__",
    "estimate_mi",
]
