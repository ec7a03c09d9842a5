"""LightningModules: GANs regularized with mutual information (InfoGAN, BiGAN) and the MINE information bottleneck."""

from mine_gan.models.bigan import BiGAN
from mine_gan.models.infogan import InfoGAN
from mine_gan.models.information_bottleneck import InformationBottleneck
from mine_gan.models.seeds import stack_seeds, unstack_seed

__all__ = ["BiGAN", "InfoGAN", "InformationBottleneck", "stack_seeds", "unstack_seed"]
