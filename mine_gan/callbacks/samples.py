"""``SamplePictures``: what a generator makes, pictured every N training batches and at the end of training.

* 2-D data: a scatter of generated points over the true centres when the data is a
  :class:`~mine_gan.contracts.MixtureData`, else over a real sample when it is a
  :class:`~mine_gan.contracts.SampledData`.
* Images: a grid of samples.
* InfoGAN (a :class:`~mine_gan.contracts.CodeTraversal`): the traversal picture, one row per code
  dimension varied with the others and the noise fixed (Chen et al., 2016, Fig. 2); for 2-D data each row
  is a path of points over the centres.

The module must be a :class:`~mine_gan.contracts.Sampler` (the GAN modules; checked at setup). Pictures
are drawn with the same noise each time (a fixed seed, without touching the run's random streams), so
successive pictures show the same latent points moving. They reach the loggers through
:mod:`mine_gan.callbacks.media`.

The last pictures are drawn in ``on_train_end``, on the training device: by ``on_fit_end`` Lightning has
moved the module to the CPU, away from its random streams and its GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torch import Tensor
from torchvision.utils import make_grid
from typing_extensions import override

from mine_gan.callbacks.media import figure_to_array, log_picture
from mine_gan.callbacks.seed_logger import seed_views
from mine_gan.contracts import CodeTraversal, MixtureData, SampledData, Sampler, require

__all__ = ["SamplePictures"]


def _check_count(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")


def image_grid(images: Tensor, nrow: int) -> np.ndarray:
    """``(N, C, H, W)`` images in ``[-1, 1]`` → an ``(H', W', 3)`` uint8 grid, ``nrow`` images per row.

    Example:
        >>> image_grid(torch.zeros(6, 1, 8, 8), nrow=3).shape
        (22, 32, 3)
    """
    grid = make_grid(((images.float().cpu() + 1) / 2).clamp(0, 1), nrow=nrow, padding=2, pad_value=1.0)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def scatter_picture(
    points: Tensor | None, reference: Tensor | None, reference_label: str, paths: Tensor | None = None
) -> np.ndarray:
    """Generated 2-D ``points`` ``(N, 2)`` over ``reference`` points; ``paths`` ``(R, S, 2)`` drawn as lines."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(4.5, 4.5))
    if reference is not None:
        style = (
            {"marker": "x", "s": 40, "c": "red"} if reference.shape[0] <= 100 else {"s": 2, "c": "gray", "alpha": 0.3}
        )
        ax.scatter(reference[:, 0], reference[:, 1], label=reference_label, zorder=1, **style)
    if points is not None:
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5, label="generated", zorder=2)
    if paths is not None:
        colors = plt.cm.tab10(np.linspace(0, 1, max(len(paths), 1)))
        for j, (row, color) in enumerate(zip(paths, colors, strict=True)):
            ax.plot(row[:, 0], row[:, 1], "-o", ms=3, lw=1, color=color, label=f"c{j}" if j < 10 else None, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=6, markerscale=2)
    return figure_to_array(figure)


class SamplePictures(Callback):
    """Log pictures of generated samples (and the InfoGAN code traversal) during and after training.

    Args:
        every_n_steps: draw every ``k`` training batches (the first one included); 0 for the end of fit only.
            (Batches, not optimizer steps: a GAN takes two or three optimizer steps per batch.)
        num_samples: points of the 2-D scatter; images in the grid are capped at 64.
        traversal_steps: columns of the traversal picture (values taken by the varied code dimension).
        traversal: draw the traversal when the module is a :class:`~mine_gan.contracts.CodeTraversal`.
        seed: seed of the noise the pictures are drawn from.

    Example:
        >>> SamplePictures(every_n_steps=100).every_n_steps
        100
    """

    def __init__(
        self,
        every_n_steps: int = 500,
        num_samples: int = 1_000,
        traversal_steps: int = 10,
        traversal: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(every_n_steps, int) or isinstance(every_n_steps, bool) or every_n_steps < 0:
            raise ValueError(f"`every_n_steps` must be an integer >= 0, got {every_n_steps!r}")
        _check_count("num_samples", num_samples)
        _check_count("traversal_steps", traversal_steps)
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.traversal_steps = traversal_steps
        self.traversal = traversal
        self.seed = seed
        self._batches = 0
        self.logged: list[str] = []  # keys logged by this process, in order (for inspection and tests)

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        require(pl_module, Sampler, "SamplePictures", "the module")

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._batches += 1
        if self.every_n_steps and (self._batches - 1) % self.every_n_steps == 0:
            self.log_pictures(trainer, pl_module)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.log_pictures(trainer, pl_module)

    @override
    def state_dict(self) -> dict[str, int]:
        return {"batches": self._batches}

    @override
    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self._batches = int(state_dict["batches"])

    def log_pictures(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Draw and log the pictures now (global-zero process only)."""
        if not trainer.is_global_zero:
            return
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        for prefix, module in seed_views(pl_module):
            # Fixed noise, and the run's own random streams left exactly where they were.
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.seed)
                pictures = self._pictures(trainer, module)
            for key, image in pictures.items():
                log_picture(trainer, prefix + key, image)
                self.logged.append(prefix + key)

    def _pictures(self, trainer: pl.Trainer, pl_module: Sampler) -> dict[str, np.ndarray]:
        samples = pl_module.sample(self.num_samples).detach().float().cpu()
        traversal = None
        if self.traversal and isinstance(pl_module, CodeTraversal):
            traversal = pl_module.code_traversal(self.traversal_steps).detach().float().cpu()
        pictures: dict[str, np.ndarray] = {}
        if samples.ndim == 4:
            pictures["samples"] = image_grid(samples[:64], nrow=8)
            if traversal is not None:
                pictures["traversal"] = image_grid(traversal.flatten(0, 1), nrow=self.traversal_steps)
        elif samples.ndim == 2 and samples.shape[1] >= 2:
            reference, label = self._reference(trainer)
            pictures["samples"] = scatter_picture(samples[:, :2], reference, label)
            if traversal is not None:
                pictures["traversal"] = scatter_picture(None, reference, label, paths=traversal[..., :2])
        return pictures

    def _reference(self, trainer: pl.Trainer) -> tuple[Tensor | None, str]:
        datamodule = getattr(trainer, "datamodule", None)
        if isinstance(datamodule, MixtureData):
            return torch.as_tensor(datamodule.centers)[:, :2].cpu(), "true centres"
        if isinstance(datamodule, SampledData):
            return datamodule.sample(self.num_samples).float().cpu()[:, :2], "data"
        return None, ""
