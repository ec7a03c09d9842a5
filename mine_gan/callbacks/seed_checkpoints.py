"""Each seed of a multi-seed run (``mine-gan fit --seeds``) as a plain single-seed checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from typing_extensions import override

from mine_gan.contracts import MultiSeedModule

__all__ = ["SeedCheckpoints"]

#: what a single-seed checkpoint keeps of the batched one: the module's configuration and where training was
_KEPT = (
    "epoch",
    "global_step",
    "pytorch-lightning_version",
    pl.LightningModule.CHECKPOINT_HYPER_PARAMS_NAME,
    pl.LightningModule.CHECKPOINT_HYPER_PARAMS_KEY,
    pl.LightningModule.CHECKPOINT_HYPER_PARAMS_TYPE,
)


class SeedCheckpoints(Callback):
    """Whenever the batched run saves a checkpoint, write each seed's ``<run dir>/seed_<k>/checkpoints/last.ckpt``.

    Seed ``k``'s file is the checkpoint of the single-seed module :meth:`~mine_gan.models.GANModule.seed_module`
    gives: its networks, MINE's moving average, random stream and iteration count, under the run's
    configuration, so ``InfoGAN.load_from_checkpoint(path)`` (or ``BiGAN``'s) loads it as a module of one seed,
    which samples. It is a model checkpoint, without optimizer, scheduler or loop state: a run is resumed from
    the batched checkpoint (``--ckpt_path <checkpoint dir>/last.ckpt``), which holds every seed.

    ``mine-gan fit --seeds`` adds it; it does nothing for a single-seed module.

    Args:
        run_directory: the run's folder, or a function giving it once the run's logger knows it.
    """

    FILENAME = "last.ckpt"

    def __init__(self, run_directory: Path | Callable[[], Path]) -> None:
        self._run_directory = run_directory

    def path(self, seed: int) -> Path:
        """Seed ``seed``'s checkpoint file."""
        root = self._run_directory() if callable(self._run_directory) else self._run_directory
        return Path(root) / f"seed_{seed}" / "checkpoints" / self.FILENAME

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if not isinstance(pl_module, MultiSeedModule) or pl_module.num_seeds == 1:
            return
        for index, seed in enumerate(pl_module.seeds):
            single = pl_module.seed_module(index)
            saved = {key: checkpoint[key] for key in _KEPT if key in checkpoint}
            saved["state_dict"] = single.state_dict()
            single.on_save_checkpoint(saved)  # the seed's random stream and iteration count
            trainer.strategy.save_checkpoint(saved, self.path(seed))  # written by rank 0
