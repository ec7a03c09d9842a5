"""MNIST and Stacked MNIST through torchvision, from files on disk or downloaded.

torchvision keeps MNIST as four idx files under ``root/MNIST/raw/``. When they are missing and cannot be
downloaded (``download=False``, or no network), :meth:`MNIST.prepare_data` and :meth:`MNIST.setup` raise a
``FileNotFoundError`` that names the folder and the files, before any training starts. Gzipped files
(``*-ubyte.gz``, as distributed) are unpacked in place.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor
from typing_extensions import override

from mine_gan.data.images import ImageDataModule, ImageSize, split_indices

__all__ = ["MNIST", "StackedMNIST", "mnist_files", "mnist_splits"]

MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def mnist_files(root: str | Path) -> list[Path]:
    """The four raw files torchvision reads, ``root/MNIST/raw/*-ubyte``."""
    raw = Path(root).expanduser() / "MNIST" / "raw"
    return [raw / name for name in MNIST_FILES]


def _ensure_mnist_files(root: str | Path, download: bool) -> None:
    """Make sure the raw files are there: unpack ``.gz`` copies, download if asked, else explain."""
    files = mnist_files(root)
    for path in files:
        packed = path.with_name(path.name + ".gz")
        if not path.exists() and packed.exists():
            with gzip.open(packed, "rb") as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
    missing = [p for p in files if not p.exists()]
    if not missing:
        return
    download_error = None
    if download:
        try:
            for train in (True, False):
                torchvision.datasets.MNIST(str(Path(root).expanduser()), train=train, download=True)
            return
        except (RuntimeError, OSError) as err:  # torchvision wraps network failures in RuntimeError
            download_error = err
    raw = files[0].parent
    reason = (
        f"downloading failed ({type(download_error).__name__}: {' '.join(str(download_error).split())[:400]})"
        if download_error is not None
        else "download=False"
    )
    raise FileNotFoundError(
        f"MNIST files not found under root={str(root)!r} and {reason}. Expected the torchvision layout "
        f"{raw}/ holding {', '.join(p.name for p in files)} (each may be gzipped as <name>.gz); missing: "
        f"{', '.join(p.name for p in missing)}. Copy the four files from the MNIST distribution there, or set "
        "download=True on a machine with internet access. Offline, `Digits`/`StackedDigits` need no files."
    )


def mnist_splits(root: str | Path, val_size: int, seed: int) -> dict[str, tuple[Tensor, Tensor]]:
    """MNIST as ``{split: (images (N, 1, 28, 28) in [0, 1], labels (N,))}``; ``val`` is a seeded subset of
    the 60,000 training images, ``test`` the official 10,000."""
    root = str(Path(root).expanduser())
    train = torchvision.datasets.MNIST(root, train=True, download=False)
    test = torchvision.datasets.MNIST(root, train=False, download=False)
    if not 0 <= val_size < len(train.data):
        raise ValueError(f"`val_size` must be in [0, {len(train.data)}) for this MNIST, got {val_size}")
    parts = split_indices(len(train.data), val_size / len(train.data), 0.0, seed)

    def as_unit(data: Tensor) -> Tensor:
        return data.unsqueeze(1).to(torch.float32) / 255.0

    images, labels = as_unit(train.data), train.targets.long()
    return {
        "train": (images[parts["train"]], labels[parts["train"]]),
        "val": (images[parts["val"]], labels[parts["val"]]),
        "test": (as_unit(test.data), test.targets.long()),
    }


class _MNISTFiles(ImageDataModule):
    """MNIST's files on disk: checked (and downloaded if asked) before reading, split into train/val/test."""

    def __init__(self, root: str, download: bool, val_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if val_size < 0:
            raise ValueError(f"`val_size` must be >= 0, got {val_size}")
        self.root = root
        self.download = download
        self.val_size = val_size

    @override
    def prepare_data(self) -> None:
        _ensure_mnist_files(self.root, self.download)

    @override
    def setup(self, stage: str | None = None) -> None:
        # prepare_data runs on one process per node; every process checks before reading.
        _ensure_mnist_files(self.root, download=False)
        super().setup(stage)

    @override
    def load_splits(self) -> dict[str, tuple[Tensor, Tensor]]:
        return mnist_splits(self.root, self.val_size, self.seed)


class MNIST(_MNISTFiles):
    """MNIST as ``(x, y)`` batches: ``x`` ``(B, 1, S, S)`` in ``[-1, 1]`` (bilinear resize from 28), ``y`` 0..9.

    Args:
        root: folder holding ``MNIST/raw/`` (torchvision's layout).
        download: download the files when missing (needs network access).
        image_size: side ``S``: 8, 16, 28 (native), 32 or 64.
        flatten: yield ``(B, S·S)`` vectors, e.g. for permutation-invariant MLPs.
        batch_size: images per batch.
        val_size: training images held out for validation (seeded).
        seed: seed of the validation split and of shuffling; ``None``: the run's seed
            (:func:`~mine_gan.seeding.data_seed`).
        num_workers: DataLoader workers.
    """

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        image_size: ImageSize = 28,
        flatten: bool = False,
        batch_size: int = 64,
        val_size: int = 5_000,
        seed: int | None = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
            root,
            download,
            val_size,
            image_size=image_size,
            flatten=flatten,
            batch_size=batch_size,
            seed=seed,
            num_workers=num_workers,
        )
        self.save_hyperparameters()


class StackedMNIST(_MNISTFiles):
    """Stacked MNIST (Metz et al., 2017): three random MNIST digits as RGB channels, 1000 modes,
    labels ``100·d₁ + 10·d₂ + d₃``; ``x`` is ``(B, 3, S, S)`` in ``[-1, 1]``.

    Stacks of each split draw their digits from that split's pool only.

    Args:
        root: folder holding ``MNIST/raw/`` (torchvision's layout).
        download: download the files when missing (needs network access).
        image_size: side ``S``: 8, 16, 28 (native), 32 or 64.
        num_samples: training stacks (drawn once, seeded; the protocol uses 128,000).
        num_val_samples: stacks in the validation set and in the test set.
        flatten: yield ``(B, 3·S·S)`` vectors.
        batch_size: images per batch.
        val_size: training digits held out for validation stacks.
        seed: seed of the split, the stacks and shuffling; ``None``: the run's seed
            (:func:`~mine_gan.seeding.data_seed`).
        num_workers: DataLoader workers.
    """

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        image_size: ImageSize = 28,
        num_samples: int = 128_000,
        num_val_samples: int = 10_000,
        flatten: bool = False,
        batch_size: int = 64,
        val_size: int = 5_000,
        seed: int | None = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
            root,
            download,
            val_size,
            image_size=image_size,
            flatten=flatten,
            batch_size=batch_size,
            seed=seed,
            num_workers=num_workers,
            stacked=True,
            num_samples=num_samples,
            num_val_samples=num_val_samples,
        )
        self.save_hyperparameters()
