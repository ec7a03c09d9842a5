"""The data of several seeds' runs as one: seed-major batches for ``mine-gan fit --seeds``.

Whether the data stream follows the seed is the configuration's choice, through the data module's ``seed``:

* an integer (the shipped YAMLs' ``data.init_args.seed: 0``) fixes the data drawn and its order whatever the
  run's seed: seeds then differ in initialization and training noise only, and two methods compared over the
  same seeds are paired on the same data;
* ``null`` makes it follow the run's seed (:func:`mine_gan.seeding.data_seed`): seed ``k`` draws and orders its
  data from ``k``, so a study's spread includes the data order.

Either way seed ``k`` of ``--seeds`` loads what ``--seed_everything=k`` loads: each seed's data module is built
right after ``seed_everything(k)``, as the single run builds it (``tests/models/test_seeds.py`` checks both).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, IterableDataset
from typing_extensions import override

__all__ = ["SeedBatches", "SeedStackedData"]


def _concatenate(batches: Sequence[Any]) -> Any:
    """One seed-major batch from the seeds' batches: tensors concatenated, tuples and lists part by part."""
    first = batches[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(batches)
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate(parts) for parts in zip(*batches, strict=True))
    raise TypeError(f"cannot stack batches of type {type(first).__name__} across seeds")


class SeedBatches(IterableDataset):
    """Batch ``i`` of every seed's loader, concatenated seed-major (``S·B`` rows); as long as the shortest."""

    def __init__(self, loaders: Sequence[Any]) -> None:
        super().__init__()
        self.loaders = list(loaders)

    def __len__(self) -> int:
        return min(len(loader) for loader in self.loaders)

    def __iter__(self) -> Iterator[Any]:
        for batches in zip(*self.loaders, strict=False):  # as long as the shortest, like a DataLoader zip
            yield _concatenate(batches)


class SeedStackedData(pl.LightningDataModule):
    """``S`` data modules of one configuration, each built under its seed, as one module of seed-major batches.

    Each seed's batches are exactly what its single run would load; attributes the models and callbacks
    read (``dims``, ``centers``, ``std``, ``num_classes``, ``sample``...) are the first module's.

    Args:
        datamodules: one data module per seed.
    """

    def __init__(self, datamodules: Sequence[pl.LightningDataModule]) -> None:
        super().__init__()
        if not datamodules:
            raise ValueError("`datamodules` must hold one data module per seed")
        self.datamodules = list(datamodules)

    def __getattr__(self, name: str) -> Any:
        modules = self.__dict__.get("datamodules")
        if modules is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(modules[0], name)

    @override
    def prepare_data(self) -> None:
        self.datamodules[0].prepare_data()  # downloads and caches are shared

    @override
    def setup(self, stage: str) -> None:
        for datamodule in self.datamodules:
            datamodule.trainer = self.trainer
            datamodule.setup(stage)

    def _loader(self, method: str) -> DataLoader:
        return DataLoader(SeedBatches([getattr(dm, method)() for dm in self.datamodules]), batch_size=None)

    @override
    def train_dataloader(self) -> DataLoader:
        return self._loader("train_dataloader")

    @override
    def val_dataloader(self) -> DataLoader:
        return self._loader("val_dataloader")

    @override
    def test_dataloader(self) -> DataLoader:
        return self._loader("test_dataloader")

    @override
    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict_dataloader")

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"seeds": [datamodule.state_dict() for datamodule in self.datamodules]}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for datamodule, state in zip(self.datamodules, state_dict["seeds"], strict=True):
            datamodule.load_state_dict(state)
