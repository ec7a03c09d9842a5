"""``ModeHistogram``: at the end of training, how the generator's samples spread over the data's modes.

The GAN modules log mode scalars on validation already (``val/modes``, ``val/kl`` for mixtures); this
callback adds the final picture of it: the histogram of samples per mode (a W&B table and bar plot, else
CSV + PNG, through :mod:`mine_gan.callbacks.media`) and its summary as ``final/modes``,
``final/high_quality``, ``final/kl``.

The metric is :func:`mine_gan.metrics.mode_metric`'s, the one the GAN modules validate with:

* Mixtures (a :class:`~mine_gan.contracts.MixtureData`): :class:`~mine_gan.metrics.ModeCoverage`, the
  VEEGAN/PacGAN protocol (2,500 samples, a mode counts with 20 high-quality samples).
* Stacked digits (a :class:`~mine_gan.contracts.StackedDigitData`, samples ``(N, 3, S, S)``):
  :class:`~mine_gan.metrics.StackedModeCoverage` with the project's digit classifier (trained once on the
  bundled digits with a fixed seed and cached, so every run is scored by the same classifier), the
  Stacked MNIST protocol (26,000 samples, a mode counts with one).
* Other data: nothing is logged.

The module must be a :class:`~mine_gan.contracts.Sampler` (checked at setup). The histogram is drawn in
``on_train_end``, while the module is still on its training device (Lightning moves it to the CPU before
``on_fit_end``), and the metric's reduction across processes runs on the strategy's root device (NCCL has
no CPU tensors).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from typing_extensions import override

from mine_gan.callbacks.media import log_histogram
from mine_gan.callbacks.seed_logger import seed_views
from mine_gan.contracts import Sampler, require
from mine_gan.metrics import ModeMetric, mode_metric
from mine_gan.seeding import seeded_generator

__all__ = ["ModeHistogram"]


class ModeHistogram(Callback):
    """Histogram of generated samples over the data's modes, logged at the end of training.

    Args:
        num_samples: samples drawn; default 2,500 for mixtures and 26,000 for stacked digits (the protocols).
        batch_size: samples drawn per call of ``sample``.
        seed: seed of the samples (the run's random streams are left untouched).

    Under ``fast_dev_run`` only 100 samples are drawn.

    Example:
        >>> ModeHistogram(num_samples=100).num_samples
        100
    """

    def __init__(self, num_samples: int | None = None, batch_size: int = 1_000, seed: int = 0) -> None:
        super().__init__()
        for name, value in (("num_samples", num_samples), ("batch_size", batch_size)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.result: dict[str, float] = {}

    @staticmethod
    def _metric(trainer: pl.Trainer, pl_module: Sampler) -> ModeMetric | None:
        return mode_metric(getattr(trainer, "datamodule", None), tuple(pl_module.x_shape))

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        require(pl_module, Sampler, "ModeHistogram", "the module")

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Every process draws its share and takes part in the metric's reduction; only rank 0 writes.
        found = self._metric(trainer, pl_module)
        if found is None:
            return
        total = self.num_samples or found.num_samples
        if trainer.fast_dev_run:  # a smoke run checks the path, not the numbers
            total = min(total, 100)
        rank, world = trainer.global_rank, trainer.world_size
        size = min(self.batch_size, -(-total // world))  # every process gets at least one batch
        self.result = {}
        for prefix, module in seed_views(pl_module):
            metric = self._metric(trainer, module).metric.to(trainer.strategy.root_device)
            for index, start in enumerate(range(0, total, size)):
                if index % world == rank:  # batch k is drawn from its own seed: the same samples on any world size
                    metric.update(self._sample(module, min(size, total - start), index).to(metric.device))
            result = {f"{prefix}{k}": float(v) for k, v in metric.compute().items()}  # a collective: all processes
            self.result.update(result)
            if not trainer.is_global_zero:
                continue
            for logger in trainer.loggers:
                logger.log_metrics(
                    {f"{prefix}final/{k[len(prefix) :]}": v for k, v in result.items()}, trainer.global_step
                )
            counts = metric.counts.cpu().tolist()
            labels = [f"{k:03d}" if len(counts) == 1000 else str(k) for k in range(len(counts))]
            log_histogram(trainer, f"{prefix}final/mode_histogram", labels, counts)

    def _sample(self, pl_module: Sampler, n: int, index: int) -> torch.Tensor:
        """``n`` samples of batch ``index``, from a stream of their own; the run's streams are left alone."""
        return pl_module.sample(n, seeded_generator(self.seed, index, device=pl_module.device))
