"""``ModeHistogram``: at the end of fit, how the generator's samples spread over the data's modes.

The GAN modules log mode scalars on validation already (``val/modes``, ``val/kl`` for mixtures); this
callback adds the final picture of it: the histogram of samples per mode (a W&B table and bar plot, else
CSV + PNG, through :mod:`mine_gan.callbacks.media`) and its summary as ``final/modes``,
``final/high_quality``, ``final/kl``.

* Mixtures (the data module has ``centers`` and ``std``): :class:`~mine_gan.metrics.ModeCoverage`, the
  VEEGAN/PacGAN protocol (2,500 samples, a mode counts with 20 high-quality samples).
* Stacked digits (samples ``(N, 3, S, S)`` and ``num_classes == 1000``):
  :class:`~mine_gan.metrics.StackedModeCoverage` with the project's digit classifier (trained once on the
  bundled digits and cached), the Stacked MNIST protocol (26,000 samples, a mode counts with one).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from typing_extensions import override

from mine_gan.callbacks.media import log_histogram
from mine_gan.callbacks.seed_logger import seed_views
from mine_gan.metrics import ModeCoverage, StackedModeCoverage
from mine_gan.seeding import seeded_generator

__all__ = ["ModeHistogram"]


class ModeHistogram(Callback):
    """Histogram of generated samples over the data's modes, logged at the end of fit.

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

    def _metric(self, trainer: pl.Trainer, pl_module: Any) -> tuple[Any, int] | None:
        datamodule = getattr(trainer, "datamodule", None)
        if getattr(datamodule, "centers", None) is not None:
            metric = ModeCoverage.from_datamodule(datamodule)
            return metric, self.num_samples or 2_500
        x_shape = tuple(getattr(pl_module, "x_shape", ()))
        if getattr(datamodule, "num_classes", None) == 1000 and len(x_shape) == 3 and x_shape[0] == 3:
            metric = StackedModeCoverage(image_size=x_shape[-1], seed=getattr(datamodule, "seed", 0))
            return metric, self.num_samples or 26_000
        return None

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Every process draws its share and takes part in the metric's reduction; only rank 0 writes.
        if not callable(getattr(pl_module, "sample", None)):
            return
        found = self._metric(trainer, pl_module)
        if found is None:
            return
        _, total = found
        if trainer.fast_dev_run:  # a smoke run checks the path, not the numbers
            total = min(total, 100)
        rank, world = trainer.global_rank, trainer.world_size
        size = min(self.batch_size, -(-total // world))  # every process gets at least one batch
        self.result = {}
        for prefix, module in seed_views(pl_module):
            metric = self._metric(trainer, module)[0].to(pl_module.device)
            for index, start in enumerate(range(0, total, size)):
                if index % world == rank:  # batch k is drawn from its own seed: the same samples on any world size
                    metric.update(self._sample(module, min(size, total - start), index))
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

    def _sample(self, pl_module: Any, n: int, index: int) -> torch.Tensor:
        """``n`` samples of batch ``index``, from a stream of their own; the run's streams are left alone."""
        generator = seeded_generator(self.seed, index, device=pl_module.device)
        if "generator" in inspect.signature(pl_module.sample).parameters:
            return pl_module.sample(n, generator=generator)
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # a module whose `sample(n)` draws from the global stream
            torch.manual_seed(generator.initial_seed())
            return pl_module.sample(n)
