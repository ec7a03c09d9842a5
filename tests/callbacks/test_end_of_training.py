"""The end-of-training pictures and mode histogram are drawn on the training device, before Lightning's teardown.

Lightning moves the module to the CPU in its teardown, before ``on_fit_end``: a GPU run whose callbacks draw
there samples on the CPU, loads CUDA stream states into CPU generators (``--seeds``), and all-gathers CPU
tensors over NCCL. Here the strategy's teardown moves the module on to the ``meta`` device, where nothing can
be drawn or pictured, so a callback still working after the teardown fails on a CPU as it fails on a GPU. A
recording callback keeps the device of every generator forward and the hook it ran in.
"""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.strategies import SingleDeviceStrategy

from mine_gan.callbacks import ModeHistogram, SamplePictures
from mine_gan.data import GaussianMixture
from mine_gan.models import InfoGAN
from mine_gan.models.seeds import stack_seeds
from mine_gan.nets import MLPDiscriminator, MLPGenerator


class TeardownElsewhere(SingleDeviceStrategy):
    """Lightning's teardown, then the module moved on to ``meta``: what ``on_fit_end`` sees differs from the
    training device, as the CPU differs from the GPU."""

    def teardown(self) -> None:
        module = self.lightning_module
        super().teardown()
        module.to("meta")


class HookRecorder(Callback):
    """Records ``(hook, device)`` for every forward of a generator network during the run's last hooks."""

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


def _infogan() -> InfoGAN:
    return InfoGAN(MLPGenerator(5, 2, (16,)), MLPDiscriminator(2, (16,)), noise_dim=2, categorical_dims=(3,))


@pytest.mark.parametrize("seeds", [1, 2], ids=["one seed", "two seeds stacked"])
def test_end_of_training_work_runs_on_the_training_device_before_teardown(tmp_path, seeds):
    pl.seed_everything(0)
    model = _infogan() if seeds == 1 else stack_seeds([_infogan() for _ in range(seeds)], list(range(seeds)))
    recorder = HookRecorder()  # first, so its on_train_end marks the hook before the others draw
    pictures, histogram = SamplePictures(every_n_steps=0, num_samples=64), ModeHistogram(num_samples=200)
    trainer = pl.Trainer(
        strategy=TeardownElsewhere(device=torch.device("cpu")), max_epochs=1, limit_train_batches=2,
        limit_val_batches=0, default_root_dir=tmp_path, logger=pl.loggers.CSVLogger(tmp_path),
        callbacks=[recorder, pictures, histogram], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, GaussianMixture(num_samples=128, batch_size=32, num_val_samples=64))

    assert next(model.parameters()).device.type == "meta"  # the teardown did move the module
    final = [(hook, device) for hook, device in recorder.forwards if hook != "training"]
    assert final and set(final) == {("on_train_end", "cpu")}  # all of it before the teardown, on the training device
    prefixes = [""] if seeds == 1 else [f"seed_{k}/" for k in range(seeds)]
    assert [key for key in pictures.logged if "traversal" not in key] == [p + "samples" for p in prefixes]
    assert {p + k for p in prefixes for k in ("modes", "high_quality")} <= set(histogram.result)
    assert all(0 <= histogram.result[p + "high_quality"] <= 1 for p in prefixes)


def test_the_mode_metric_reduces_on_the_strategy_root_device(tmp_path, monkeypatch):
    """torchmetrics all-gathers the metric's states where they are: they must be on the root device (NCCL)."""
    from mine_gan.metrics import ModeCoverage

    devices: list[str] = []
    compute = ModeCoverage.compute

    def recorded(self):
        devices.append(self.counts.device.type)
        return compute(self)

    monkeypatch.setattr(ModeCoverage, "compute", recorded)
    pl.seed_everything(0)
    trainer = pl.Trainer(
        strategy=TeardownElsewhere(device=torch.device("cpu")), max_epochs=1, limit_train_batches=2,
        limit_val_batches=0, default_root_dir=tmp_path, logger=False, callbacks=[ModeHistogram(num_samples=200)],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(_infogan(), GaussianMixture(num_samples=128, batch_size=32, num_val_samples=64))
    assert devices == [trainer.strategy.root_device.type]
