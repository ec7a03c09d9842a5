"""A plain LightningModule measured by ``MutualInformationMonitor``, runnable on 1 or 2 (DDP) processes.

Run as a script it trains on ``--world`` processes and saves each rank's monitor state and histories to
``--out/rank<r>.pt``; the tests import :func:`fit` to make the single-process references in-process.

Lightning always shuffles training data across ranks, so :class:`PairData` shards unshuffled:
each rank's batch ``k`` under ``DistributedSampler(shuffle=False)`` holds rows
``2Bk + r + 2j``, so the monitor's gathered batch is ``[rank 0 rows; rank 1 rows]``. :func:`data`
orders the single-process set the same way, so both see identical global batches.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from mine_gan.contracts import OUTPUTS_KEY

PER_RANK_BATCH = 16
TRAIN_BATCHES = 4  # global batches per epoch
VAL_BATCHES = 2
EPOCHS = 2
WORLD = 2


class PlainModule(pl.LightningModule):
    """Knows nothing of mine_gan but the key: regresses y on x and returns pairs under ``OUTPUTS_KEY``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(2, 2)

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        x, y = batch
        prediction = self.net(x)
        loss = nn.functional.mse_loss(prediction, y)
        return {"loss": loss, OUTPUTS_KEY: {"xy": (x, y), "xp": (x, prediction)}}

    def validation_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        x, y = batch
        return {OUTPUTS_KEY: {"xy": (x, y), "xp": (x, self.net(x))}}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


def batch_pair(pl_module: pl.LightningModule, batch: Any, outputs: Any) -> tuple[Tensor, Tensor]:
    """A getter: the pair straight from the batch (for ``pairs={"xy": "_monitor_run.batch_pair"}``)."""
    return batch[0], batch[1]


def _global_order(rows: Tensor, global_batch: int) -> Tensor:
    """Reorder so each global batch lists rank 0's sampler rows, then rank 1's."""
    blocks = rows.view(-1, global_batch, *rows.shape[1:])
    return torch.cat([blocks[:, r::WORLD] for r in range(WORLD)], dim=1).reshape(rows.shape)


def data(world: int) -> tuple[TensorDataset, TensorDataset, int]:
    """Train and validation sets, and the per-process batch size, for ``world`` processes."""
    generator = torch.Generator().manual_seed(123)
    global_batch = WORLD * PER_RANK_BATCH
    sets = []
    for batches in (TRAIN_BATCHES, VAL_BATCHES):
        x = torch.randn(batches * global_batch, 2, generator=generator)
        y = x + 0.5 * torch.randn(x.shape, generator=generator)
        if world == 1:
            x, y = _global_order(x, global_batch), _global_order(y, global_batch)
        sets.append(TensorDataset(x, y))
    return sets[0], sets[1], global_batch // world


class PairData(pl.LightningDataModule):
    """Train and validation loaders, sharded in order over the processes (no shuffling)."""

    def __init__(self, world: int) -> None:
        super().__init__()
        self.train, self.val, self.batch = data(world)

    def _loader(self, dataset: TensorDataset) -> DataLoader:
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        sampler = DistributedSampler(dataset, shuffle=False) if distributed else None
        return DataLoader(dataset, batch_size=self.batch, sampler=sampler)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val)


def make_monitor(**kwargs: Any) -> pl.Callback:
    from mine_gan.callbacks import MutualInformationMonitor
    from mine_gan.estimators import ConcatCritic

    torch.manual_seed(7)  # the xy critic is given; xp's is built from the first batch
    defaults: dict[str, Any] = {
        "pairs": ["xy", "xp"],
        "critic": {"xy": ConcatCritic(2, 2, hidden_dims=(16,))},
        "hidden_dims": (16,),
        "lr_mi": 1e-2,
        "ema_decay": 0.9,
        "every_n_steps": 1,
    }
    return MutualInformationMonitor(**{**defaults, **kwargs})


def fit(
    world: int,
    monitor: pl.Callback | None,
    *,
    epochs: int = EPOCHS,
    callbacks: list[pl.Callback] = (),
    ckpt_path: str | None = None,
    default_root_dir: str | None = None,
) -> tuple[pl.Trainer, PlainModule]:
    pl.seed_everything(0, verbose=False)
    module = PlainModule()
    checkpointing = default_root_dir is not None
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=world,
        strategy="ddp" if world > 1 else "auto",
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=checkpointing,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=default_root_dir,
        use_distributed_sampler=False,
        callbacks=([monitor] if monitor is not None else []) + list(callbacks),
    )
    trainer.fit(module, datamodule=PairData(world), ckpt_path=ckpt_path)
    return trainer, module


def snapshot(monitor: Any) -> dict[str, Any]:
    """What the tests compare: histories and the full estimator state (critic, EMA, optimizer)."""
    return {"history": monitor.history, "heldout": monitor.heldout_history, "state": monitor.state_dict()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=int, default=WORLD)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    monitor = make_monitor()
    trainer, _ = fit(args.world, monitor)
    torch.save(snapshot(monitor), args.out / f"rank{trainer.global_rank}.pt")
