"""Generators, discriminators and encoders (MLPs for low-dimensional data, DCGAN-style conv nets for images),
with the adversarial losses and latent codes they are trained with."""

from mine_gan.nets.codes import ContinuousCode, LatentCode
from mine_gan.nets.dcgan import IMAGE_SIZES, DCGANDiscriminator, DCGANEncoder, DCGANGenerator
from mine_gan.nets.losses import (
    ADVERSARIAL_LOSSES,
    PENALTY_POINTS,
    AdversarialLoss,
    PenaltyPoints,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from mine_gan.nets.mlp import MLPDiscriminator, MLPEncoder, MLPGenerator
from mine_gan.nets.stack import SeedStack

__all__ = [
    "ADVERSARIAL_LOSSES",
    "IMAGE_SIZES",
    "PENALTY_POINTS",
    "AdversarialLoss",
    "ContinuousCode",
    "DCGANDiscriminator",
    "DCGANEncoder",
    "DCGANGenerator",
    "LatentCode",
    "MLPDiscriminator",
    "MLPEncoder",
    "MLPGenerator",
    "PenaltyPoints",
    "SeedStack",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
]
