"""``MutualInformation`` over an evaluation set sharded on ``--world`` processes by Lightning's DDP.

Run as a script it validates on ``--world`` processes (each rank sees every other row, in batches of
``BATCH``) and saves the metric's value to ``--out/rank<r>.pt``; the tests import :func:`evaluation_set`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

N = 64
BATCH = 7  # uneven: the shards split into batches of 7, 7, 7, 7, 4
BOUNDS = ("dv", "nwj", "smile")
SMILE_TAU = 0.1  # small enough that the untrained critic's scores are clipped


def evaluation_set() -> tuple[torch.nn.Module, Tensor, Tensor, Tensor]:
    """A float64 critic and ``(x, z, z_marginal)`` with two marginal partners per row."""
    from mine_gan.estimators import ConcatCritic

    generator = torch.Generator().manual_seed(5)
    x = torch.randn(N, 3, generator=generator, dtype=torch.float64)
    z = x[:, :2] + 0.3 * torch.randn(N, 2, generator=generator, dtype=torch.float64)
    z_marginal = torch.randn(N, 2, 2, generator=generator, dtype=torch.float64)  # row i: two partners of x_i
    torch.manual_seed(11)
    critic = ConcatCritic(3, 2, hidden_dims=(16,)).double()
    return critic, x, z, z_marginal


class Evaluate(pl.LightningModule):
    def __init__(self, critic: torch.nn.Module) -> None:
        super().__init__()
        from mine_gan.metrics import MutualInformation

        self.metrics = torch.nn.ModuleDict(
            {bound: MutualInformation(critic, bound=bound, smile_tau=SMILE_TAU) for bound in BOUNDS}
        )
        self.values: dict[str, Tensor] = {}

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, z, z_marginal = batch
        for metric in self.metrics.values():
            metric.update(x, z, z_marginal=marginal_rows(z_marginal))

    def on_validation_epoch_end(self) -> None:
        self.values = {bound: metric.compute() for bound, metric in self.metrics.items()}


def marginal_rows(z_marginal: Tensor) -> Tensor:
    """``(B, K, D) -> (K·B, D)`` with row ``r`` a partner of ``x[r % B]``, as ``update`` expects."""
    return z_marginal.transpose(0, 1).reshape(-1, z_marginal.shape[2])


def evaluate(world: int) -> tuple[pl.Trainer, dict[str, Tensor]]:
    critic, x, z, z_marginal = evaluation_set()
    module = Evaluate(critic)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=world,
        strategy="ddp" if world > 1 else "auto",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.validate(module, DataLoader(TensorDataset(x, z, z_marginal), batch_size=BATCH), verbose=False)
    return trainer, module.values


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    trainer, values = evaluate(args.world)
    torch.save(values, args.out / f"rank{trainer.global_rank}.pt")
