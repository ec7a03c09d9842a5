"""A fit whose strategy moves the module on to ``meta`` after Lightning's teardown, on one process or two (DDP).

Lightning's teardown moves the module to the CPU before ``on_fit_end``; on a GPU run that is another device
than the training one. Moving it on to ``meta`` (where nothing can be drawn, pictured or all-gathered) makes a
callback still working after the teardown fail on a CPU as it fails on a GPU. :class:`HookRecorder` keeps the
device of every generator forward and the hook it ran in.

Run as a script it fits on ``--world`` DDP processes (gloo) and saves what each rank recorded to
``--out/rank<r>.pt``; the tests import :func:`fit` for one process.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.strategies import DDPStrategy, SingleDeviceStrategy

from mine_gan.callbacks import ModeHistogram, SamplePictures
from mine_gan.data import GaussianMixture
from mine_gan.models import InfoGAN
from mine_gan.models.seeds import stack_seeds
from mine_gan.nets import MLPDiscriminator, MLPGenerator


class MovesOnAtTeardown:
    """Lightning's teardown, then the module moved on to ``meta``: ``on_fit_end`` sees another device than the
    training one, as the CPU differs from the GPU."""

    def teardown(self) -> None:
        module = self.lightning_module
        super().teardown()
        module.to("meta")


class TeardownElsewhere(MovesOnAtTeardown, SingleDeviceStrategy):
    pass


class TeardownElsewhereDDP(MovesOnAtTeardown, DDPStrategy):
    pass


class HookRecorder(Callback):
    """Records ``(hook, device)`` for every forward of a generator network; put it first among the callbacks,
    so that its ``on_train_end`` marks the hook before the others draw."""

    def __init__(self) -> None:
        self.hook = "training"
        self.forwards: list[tuple[str, str]] = []
        self._handle = None

    def setup(self, trainer, pl_module, stage):
        def record(module, inputs, output):
            if isinstance(module, MLPGenerator):
                self.forwards.append((self.hook, next(module.parameters()).device.type))

        self._handle = torch.nn.modules.module.register_module_forward_hook(record)

    def on_train_end(self, trainer, pl_module):
        self.hook = "on_train_end"

    def on_fit_end(self, trainer, pl_module):
        self.hook = "on_fit_end"

    def teardown(self, trainer, pl_module, stage):
        self._handle.remove()


def infogan() -> InfoGAN:
    return InfoGAN(MLPGenerator(5, 2, (16,)), MLPDiscriminator(2, (16,)), noise_dim=2, categorical_dims=(3,))


def fit(out: Path, world: int = 1, seeds: int = 1) -> dict[str, Any]:
    """Fit 2 batches with the recorder, the pictures and the mode histogram; what each recorded."""
    pl.seed_everything(0)
    model = infogan() if seeds == 1 else stack_seeds([infogan() for _ in range(seeds)], list(range(seeds)))
    recorder = HookRecorder()
    pictures, histogram = SamplePictures(every_n_steps=0, num_samples=64), ModeHistogram(num_samples=200)
    strategy = (
        TeardownElsewhereDDP(process_group_backend="gloo") if world > 1 else TeardownElsewhere(torch.device("cpu"))
    )
    trainer = pl.Trainer(
        accelerator="cpu", devices=world, strategy=strategy, max_epochs=1, limit_train_batches=2,
        limit_val_batches=0, default_root_dir=out, logger=pl.loggers.CSVLogger(out),
        callbacks=[recorder, pictures, histogram], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, GaussianMixture(num_samples=128, batch_size=32, num_val_samples=64))
    return {
        "rank": trainer.global_rank,
        "module_device": next(model.parameters()).device.type,
        "forwards": recorder.forwards,
        "pictures": pictures.logged,
        "histogram": histogram.result,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = fit(args.out, args.world)
    torch.save(result, args.out / f"rank{result['rank']}.pt")
