"""Generators, discriminators and encoders: MLPs for low-dimensional data, DCGAN-style conv nets for images."""

from mine_gan.nets.dcgan import IMAGE_SIZES, DCGANDiscriminator, DCGANEncoder, DCGANGenerator
from mine_gan.nets.mlp import MLPDiscriminator, MLPEncoder, MLPGenerator

__all__ = [
    "IMAGE_SIZES",
    "DCGANDiscriminator",
    "DCGANEncoder",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPEncoder",
    "MLPGenerator",
]
