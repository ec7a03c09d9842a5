"""What the digit data modules share: preprocessing to the tanh range, seeded splits, stacking, loaders.

Images are kept at their native resolution in ``[0, 1]`` and resized on access (bilinear), so MNIST at
64×64 costs no more memory than at 28×28. Batches are ``(x, y)`` with ``x`` in ``[-1, 1]``, shaped
``(B, C, H, W)`` or ``(B, C·H·W)`` when ``flatten=True``.

Stacked digits (Metz et al., 2017, Unrolled GAN; Srivastava et al., 2017, VEEGAN): three digits drawn
independently and uniformly from a pool become the three channels of one image, so the data has
``10³ = 1000`` modes; the label of a stack is ``100·d₁ + 10·d₂ + d₃``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal, get_args

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from typing_extensions import override

from mine_gan.seeding import data_seed, seeded_generator
from mine_gan.validation import check_choice, check_positive, check_unit_interval

__all__ = [
    "IMAGE_SIZES",
    "DigitImages",
    "ImageDataModule",
    "ImageSize",
    "split_indices",
    "stack_labels",
    "to_tanh_range",
]

ImageSize = Literal[8, 16, 28, 32, 64]
IMAGE_SIZES: tuple[int, ...] = get_args(ImageSize)
Split = Literal["train", "val", "test"]


def to_tanh_range(images: Tensor, image_size: int) -> Tensor:
    """Resize images in ``[0, 1]`` to ``image_size`` (bilinear) and map them to ``[-1, 1]``.

    Args:
        images: ``(N, C, h, w)`` floats in ``[0, 1]``.
        image_size: output side ``H = W``.

    Returns:
        ``(N, C, image_size, image_size)`` floats in ``[-1, 1]``.

    Example:
        >>> out = to_tanh_range(torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]]), 4)
        >>> out.shape, float(out.min()), float(out.max())
        (torch.Size([1, 1, 4, 4]), -1.0, 1.0)
    """
    if images.shape[-1] != image_size or images.shape[-2] != image_size:
        # Antialiasing only matters when shrinking; its filter weights are positive, so the range holds.
        shrinking = image_size < images.shape[-1]
        images = F.interpolate(
            images, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=shrinking
        )
    return images * 2 - 1


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Tensor]:
    """Seeded random partition of ``range(n)`` into ``"train"``, ``"val"`` and ``"test"`` index tensors.

    Example:
        >>> parts = split_indices(10, 0.2, 0.3, seed=0)
        >>> [len(parts[k]) for k in ("train", "val", "test")]
        [5, 2, 3]
        >>> sorted(torch.cat(list(parts.values())).tolist()) == list(range(10))
        True
    """
    check_unit_interval("val_fraction", val_fraction)
    check_unit_interval("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"`val_fraction` + `test_fraction` must be < 1, got {val_fraction} + {test_fraction}")
    order = torch.randperm(n, generator=seeded_generator(seed, n))
    num_val, num_test = round(n * val_fraction), round(n * test_fraction)
    return {"train": order[num_val + num_test :], "val": order[:num_val], "test": order[num_val : num_val + num_test]}


def stack_labels(digits: Tensor) -> Tensor:
    """Label of stacked digits ``(..., 3) -> (...)``: ``100·d₁ + 10·d₂ + d₃``.

    Example:
        >>> stack_labels(torch.tensor([[1, 2, 3], [0, 0, 7]]))
        tensor([123,   7])
    """
    return digits[..., 0] * 100 + digits[..., 1] * 10 + digits[..., 2]


class DigitImages(Dataset):
    """Digit images (single or stacked as channels), resized and scaled to ``[-1, 1]`` on access.

    Args:
        images: ``(N, 1, h, w)`` floats in ``[0, 1]``, the pool of digits.
        labels: ``(N,)`` digit labels.
        image_size: side of the images returned.
        flatten: return ``(C·H·W,)`` vectors instead of ``(C, H, W)``.
        stacks: ``(M, 3)`` pool indices; item ``i`` stacks the three digits ``stacks[i]`` as channels and
            its label is ``100·d₁ + 10·d₂ + d₃``. ``None`` for single digits.
    """

    def __init__(
        self, images: Tensor, labels: Tensor, image_size: int, flatten: bool = False, stacks: Tensor | None = None
    ) -> None:
        self.images = images
        self.labels = labels
        self.image_size = image_size
        self.flatten = flatten
        self.stacks = stacks

    def __len__(self) -> int:
        return len(self.images) if self.stacks is None else len(self.stacks)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if self.stacks is None:
            pool_index = torch.tensor([index])
            label = self.labels[index]
        else:
            pool_index = self.stacks[index]
            label = stack_labels(self.labels[pool_index])
        x = to_tanh_range(self.images[pool_index].transpose(0, 1), self.image_size)[0]
        return (x.flatten() if self.flatten else x), label


class ImageDataModule(pl.LightningDataModule, ABC):
    """Base of the digit data modules. Subclasses give the pools of digits of each split
    (:meth:`load_splits`); ``stacked=True`` turns each split into stacks of three digits.

    Args:
        image_size: side of the images, one of 8, 16, 28, 32, 64.
        flatten: yield flat vectors (for MLPs) instead of ``(C, H, W)`` images.
        batch_size: images per batch.
        seed: seed of splits, stacks and shuffling; ``None``: the run's seed (:func:`~mine_gan.seeding.data_seed`).
        num_workers: DataLoader workers.
        stacked: stack three digits as channels (1000 classes) instead of single digits (10 classes).
        num_samples: stacks drawn for training (``stacked`` only).
        num_val_samples: stacks drawn for validation and for test (``stacked`` only).
    """

    def __init__(
        self,
        image_size: int,
        flatten: bool,
        batch_size: int,
        seed: int | None,
        num_workers: int,
        *,
        stacked: bool = False,
        num_samples: int = 1,
        num_val_samples: int = 1,
    ) -> None:
        super().__init__()
        check_choice("image_size", image_size, IMAGE_SIZES)
        check_positive("batch_size", batch_size)
        check_positive("num_workers", num_workers, strict=False)
        check_positive("num_samples", num_samples)
        check_positive("num_val_samples", num_val_samples)
        self.image_size = image_size
        self.flatten = flatten
        self.batch_size = batch_size
        self.seed = data_seed(seed)
        self.num_workers = num_workers
        self.stacked = stacked
        self.num_samples = num_samples
        self.num_val_samples = num_val_samples
        channels = 3 if stacked else 1
        self.num_classes = 1000 if stacked else 10
        self.dims: tuple[int, ...] = (
            (channels * image_size * image_size,) if flatten else (channels, image_size, image_size)
        )
        self.datasets: dict[str, DigitImages] = {}

    @abstractmethod
    def load_splits(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Pools of each split: ``{"train" | "val" | "test": (images (N, 1, h, w) in [0, 1], labels (N,))}``."""

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        for split, (images, labels) in self.load_splits().items():
            stacks = None
            if self.stacked:
                size = self.num_samples if split == "train" else self.num_val_samples
                rng = seeded_generator(self.seed, ("train", "val", "test").index(split), 3)
                stacks = torch.randint(len(images), (size, 3), generator=rng)
            self.datasets[split] = DigitImages(images, labels, self.image_size, self.flatten, stacks)

    def _loader(self, split: Split, train: bool = False) -> DataLoader:
        if not self.datasets:
            raise RuntimeError(f"call `{type(self).__name__}.setup()` before asking for a dataloader")
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=train and len(self.datasets[split]) >= self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=seeded_generator(self.seed, 4) if train else None,
        )

    @override
    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    @override
    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    @override
    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    @override
    def predict_dataloader(self) -> DataLoader:
        """The test images: a GAN module's ``predict_step`` samples as many, and BiGAN encodes them."""
        return self._loader("test")
