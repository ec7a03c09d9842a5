"""Data modules for distributions we can sample exactly (2-D toy densities).

A GAN on a toy density should see the true distribution, not a finite training set: each training
epoch draws ``num_samples`` fresh points. Everything is reproducible: the points of epoch ``e`` on
rank ``r`` come from a random stream seeded with ``(seed, e, r)``, so a rerun with the same seed sees the
same stream, and DDP ranks see different (never duplicated) points. Validation and test sets are fixed
(the same points every time they are iterated), which is what an evaluation needs.

Batches are drawn in the main process (``num_workers=0``): drawing a batch of 2-D points costs less
than shipping it from a worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset
from typing_extensions import override

from mine_gan.seeding import data_seed, seeded_generator
from mine_gan.validation import check_positive

__all__ = ["SampledDataModule", "SampleStream"]

# Streams of one seed: which split a random stream serves.
_TRAIN, _VAL, _TEST = 0, 1, 2


def _rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class SampleStream(IterableDataset):
    """Batches of exact samples: ``(B, D)`` tensors, split between DDP ranks.

    Args:
        sample: ``sample(n, rng) -> (n, D)`` tensor.
        num_samples: points per pass, over all ranks together.
        batch_size: points per batch.
        seed: base seed.
        stream: which split (separates the train, validation and test streams of one seed).
        fresh: draw new points at each pass (training) or the same ones every time (evaluation).
        drop_last: yield only full batches (training), or end on a smaller batch so that exactly
            ``num_samples`` points are seen (evaluation).
    """

    def __init__(
        self,
        sample: Callable[[int, torch.Generator], Tensor],
        num_samples: int,
        batch_size: int,
        seed: int,
        stream: int,
        *,
        fresh: bool,
        drop_last: bool,
    ) -> None:
        super().__init__()
        self.sample = sample
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.stream = stream
        self.fresh = fresh
        self.drop_last = drop_last
        self.epoch = 0

    def _rank_sizes(self) -> list[int]:
        rank, world = _rank_and_world()
        if self.drop_last:
            num_batches = max(self.num_samples // (self.batch_size * world), 1)
            return [self.batch_size] * num_batches
        share = self.num_samples // world + (1 if rank < self.num_samples % world else 0)
        full, rest = divmod(share, self.batch_size)
        return [self.batch_size] * full + ([rest] if rest else [])

    def __len__(self) -> int:
        return len(self._rank_sizes())

    def __iter__(self) -> Iterator[Tensor]:
        rank, _ = _rank_and_world()
        epoch = self.epoch if self.fresh else 0
        if self.fresh:
            self.epoch += 1
        rng = seeded_generator(self.seed, self.stream, epoch, rank)
        for size in self._rank_sizes():
            yield self.sample(size, rng)


class SampledDataModule(pl.LightningDataModule, ABC):
    """Base for data modules over a density with an exact sampler; subclasses define :meth:`sample`.

    Args:
        num_samples: training points per epoch (drawn fresh each epoch).
        batch_size: points per batch.
        num_val_samples: size of the fixed validation set (and of the test set).
        seed: seed of every stream; ``None``: the run's seed (:func:`~mine_gan.seeding.data_seed`).
    """

    dims: tuple[int, ...] = (2,)

    def __init__(self, num_samples: int, batch_size: int, num_val_samples: int, seed: int | None) -> None:
        super().__init__()
        check_positive("num_samples", num_samples)
        check_positive("batch_size", batch_size)
        check_positive("num_val_samples", num_val_samples)
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.num_val_samples = num_val_samples
        self.seed = seed = data_seed(seed)
        self._train_stream = SampleStream(
            self.sample, num_samples, batch_size, seed, _TRAIN, fresh=True, drop_last=True
        )

    @abstractmethod
    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` exact samples, shape ``(n, *dims)``."""

    def _loader(self, dataset: IterableDataset) -> DataLoader:
        # Batches come ready-made from the stream, hence ``batch_size=None``.
        return DataLoader(dataset, batch_size=None, num_workers=0)

    @override
    def train_dataloader(self) -> DataLoader:
        return self._loader(self._train_stream)

    @override
    def val_dataloader(self) -> DataLoader:
        return self._loader(
            SampleStream(
                self.sample, self.num_val_samples, self.batch_size, self.seed, _VAL, fresh=False, drop_last=False
            )
        )

    @override
    def test_dataloader(self) -> DataLoader:
        return self._loader(
            SampleStream(
                self.sample, self.num_val_samples, self.batch_size, self.seed, _TEST, fresh=False, drop_last=False
            )
        )

    @override
    def predict_dataloader(self) -> DataLoader:
        """The test points: a GAN module's ``predict_step`` samples as many, and BiGAN encodes them."""
        return self.test_dataloader()

    @override
    def state_dict(self) -> dict[str, int]:
        # Resuming from a checkpoint continues the stream of fresh epochs rather than replaying epoch 0.
        return {"epoch": self._train_stream.epoch}

    @override
    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self._train_stream.epoch = int(state_dict["epoch"])
