"""scikit-learn's bundled 8×8 handwritten digits (1,797 images, offline), single and stacked.

Small and fast: for tests, quick checks and experiments about 8×8 digits themselves. Upsampled, they are
blurry blocks, not handwriting, so the offline stand-in for MNIST is :mod:`mine_gan.data.mnist5k` (5,000 real
MNIST digits at 28×28). :class:`StackedDigits` is the Stacked MNIST protocol (1000 modes) on these digits.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import Tensor
from typing_extensions import override

from mine_gan.data.images import ImageDataModule, ImageSize, split_indices

__all__ = ["Digits", "StackedDigits", "digit_splits"]

# sklearn's digits are 4×4-pixel block counts: integers in [0, 16].
_MAX_VALUE = 16.0


def digit_splits(
    val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, tuple[Tensor, Tensor]]:
    """scikit-learn's digits split at random: ``{split: (images (N, 1, 8, 8) in [0, 1], labels (N,))}``.

    Example:
        >>> parts = digit_splits()
        >>> {k: tuple(v[0].shape) for k, v in parts.items()}
        {'train': (1258, 1, 8, 8), 'val': (180, 1, 8, 8), 'test': (359, 1, 8, 8)}
    """
    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / _MAX_VALUE
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return {k: (images[i], labels[i]) for k, i in split_indices(len(images), val_fraction, test_fraction, seed).items()}


class Digits(ImageDataModule):
    """scikit-learn's 8×8 digits as ``(x, y)`` batches: ``x`` ``(B, 1, S, S)`` in ``[-1, 1]``, ``y`` in 0..9.

    Resized (bilinear) to ``image_size``; split at random (seeded) into train/val/test.

    Args:
        image_size: side ``S`` of the images: 8 (native), 16, 28, 32 or 64.
        flatten: yield ``(B, S·S)`` vectors, e.g. for permutation-invariant MLPs.
        batch_size: images per batch.
        val_fraction: fraction of the 1,797 images held out for validation.
        test_fraction: fraction held out for test.
        seed: seed of the split and of shuffling; ``None``: the run's seed (:func:`~mine_gan.seeding.data_seed`).
        num_workers: DataLoader workers.

    Example:
        >>> dm = Digits(image_size=16, batch_size=32)
        >>> dm.dims, dm.num_classes
        ((1, 16, 16), 10)
        >>> dm.setup("fit")
        >>> x, y = next(iter(dm.train_dataloader()))
        >>> x.shape, y.shape, bool(x.min() >= -1 and x.max() <= 1)
        (torch.Size([32, 1, 16, 16]), torch.Size([32]), True)
    """

    def __init__(
        self,
        image_size: ImageSize = 32,
        flatten: bool = False,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int | None = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(image_size, flatten, batch_size, seed, num_workers)
        split_indices(1, val_fraction, test_fraction, self.seed)  # validates the fractions now, not at setup
        self.save_hyperparameters()
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    @override
    def load_splits(self) -> dict[str, tuple[Tensor, Tensor]]:
        return digit_splits(self.val_fraction, self.test_fraction, self.seed)


class StackedDigits(ImageDataModule):
    """Three random 8×8 digits stacked as RGB channels: 1000 modes, labels ``100·d₁ + 10·d₂ + d₃``.

    The Stacked MNIST protocol (Metz et al., 2017; used for Table 1 of Belghazi et al., 2018) on the
    offline digits. Stacks of each split draw their digits from that split's pool only, so validation
    and test stacks are made of digits never seen in training.

    Args:
        image_size: side ``S`` of the images: 8, 16, 28, 32 or 64.
        num_samples: training stacks (drawn once, seeded).
        num_val_samples: stacks in the validation set and in the test set.
        flatten: yield ``(B, 3·S·S)`` vectors.
        batch_size: images per batch.
        val_fraction: fraction of the digits held out for validation stacks.
        test_fraction: fraction held out for test stacks.
        seed: seed of the split, the stacks and shuffling; ``None``: the run's seed
            (:func:`~mine_gan.seeding.data_seed`).
        num_workers: DataLoader workers.

    Example:
        >>> dm = StackedDigits(image_size=16, num_samples=256, num_val_samples=64, batch_size=8)
        >>> dm.dims, dm.num_classes
        ((3, 16, 16), 1000)
        >>> dm.setup("fit")
        >>> x, y = next(iter(dm.train_dataloader()))
        >>> x.shape, bool(y.max() < 1000)
        (torch.Size([8, 3, 16, 16]), True)
    """

    def __init__(
        self,
        image_size: ImageSize = 32,
        num_samples: int = 50_000,
        num_val_samples: int = 10_000,
        flatten: bool = False,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int | None = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
            image_size,
            flatten,
            batch_size,
            seed,
            num_workers,
            stacked=True,
            num_samples=num_samples,
            num_val_samples=num_val_samples,
        )
        split_indices(1, val_fraction, test_fraction, self.seed)
        self.save_hyperparameters()
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    @override
    def load_splits(self) -> dict[str, tuple[Tensor, Tensor]]:
        return digit_splits(self.val_fraction, self.test_fraction, self.seed)
