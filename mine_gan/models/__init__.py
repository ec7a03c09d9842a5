"""LightningModules: GANs regularized with mutual information."""

from mine_gan.models.bigan import BiGAN
from mine_gan.models.infogan import InfoGAN
from mine_gan.models.information_bottleneck import InformationBottleneck

__all__ = ["BiGAN", "InfoGAN", "InformationBottleneck"]
