"""LightningDataModules: 2-D toy densities, real MNIST digits (5,000 shipped offline, or the full set from files),
scikit-learn's 8×8 digits, single or stacked.

Every module exposes ``dims`` (the shape of one sample) right after construction, and ``num_classes`` when
it is labelled. 2-D densities yield ``(B, 2)`` tensors; image modules yield ``(x, y)`` with ``x`` in
``[-1, 1]``.
"""

from mine_gan.data.correlated_gaussians import correlated_gaussians, gaussian_mi
from mine_gan.data.digits import Digits, StackedDigits, digit_splits
from mine_gan.data.images import IMAGE_SIZES, ImageSize, stack_labels, to_tanh_range
from mine_gan.data.mixtures import GaussianMixture, mixture_centers
from mine_gan.data.mnist import MNIST, StackedMNIST, mnist_files
from mine_gan.data.mnist5k import MNIST5k, StackedMNIST5k, mnist5k_digits, mnist5k_splits
from mine_gan.data.swiss_roll import SwissRoll

__all__ = [
    "IMAGE_SIZES",
    "Digits",
    "GaussianMixture",
    "ImageSize",
    "MNIST",
    "MNIST5k",
    "StackedDigits",
    "StackedMNIST",
    "StackedMNIST5k",
    "SwissRoll",
    "correlated_gaussians",
    "digit_splits",
    "gaussian_mi",
    "mixture_centers",
    "mnist5k_digits",
    "mnist5k_splits",
    "mnist_files",
    "stack_labels",
    "to_tanh_range",
]
