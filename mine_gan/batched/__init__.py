"""Many seeds of one GAN configuration trained as one batched model (``torch.func`` over stacked parameters).

:class:`GANConfig` names a recipe with :class:`mine_gan.models.InfoGAN`'s argument names;
:class:`BatchedGANTrainer` trains it for S seeds at once, each seed independent of the others;
:class:`StackedModule` is the stacked-parameter network both rest on; :func:`train_and_score` trains and
scores a configuration on PacGAN's 2-D mixtures.
"""

from mine_gan.batched.config import GANConfig
from mine_gan.batched.evaluate import train_and_score
from mine_gan.batched.stacked import StackedModule
from mine_gan.batched.trainer import BatchedGANTrainer, Sampler

__all__ = ["BatchedGANTrainer", "GANConfig", "Sampler", "StackedModule", "train_and_score"]
