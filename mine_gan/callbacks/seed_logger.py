"""Per-seed metric files for a multi-seed run (``mine-gan fit --seeds``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.utilities import rank_zero_only
from typing_extensions import override

from mine_gan.contracts import MultiSeedModule

__all__ = ["SEED_PREFIX", "SeedCSVLogger", "seed_views", "split_seed_key"]

#: how a multi-seed module prefixes seed ``k``'s metrics: ``seed_<k>/<stage>/<name>``
SEED_PREFIX = "seed_{}/"
_SEED_KEY = re.compile(r"^seed_(\d+)/(.+)$")


def split_seed_key(key: str) -> tuple[int | None, str]:
    """``("seed_3/train/mi") -> (3, "train/mi")``; a key without a seed prefix gives ``(None, key)``.

    Example:
        >>> split_seed_key("seed_3/train/mi"), split_seed_key("epoch")
        ((3, 'train/mi'), (None, 'epoch'))
    """
    match = _SEED_KEY.match(key)
    return (int(match[1]), match[2]) if match else (None, key)


class SeedCSVLogger(Logger):
    """Writes ``<run dir>/seed_<k>/metrics.csv`` for every seed: seed ``k``'s metrics under their single-run names.

    A metric ``seed_<k>/train/d_loss`` goes to seed ``k``'s file as ``train/d_loss``; a metric without a seed
    prefix (``epoch``) goes to every seed's file. Each file therefore has the columns of the single run
    ``mine-gan fit --seed_everything=<k>``.

    Args:
        run_directory: the run's folder, or a function giving it once the run's main logger knows it.
        seeds: the seeds of the run.
    """

    def __init__(self, run_directory: Path | Callable[[], Path], seeds: Sequence[int]) -> None:
        super().__init__()
        self._run_directory = run_directory
        self.seeds = [int(s) for s in seeds]
        self._loggers: dict[int, CSVLogger] | None = None

    @property
    @override
    def name(self) -> str:
        return "seeds"

    @property
    @override
    def version(self) -> str:
        return ",".join(map(str, self.seeds))

    @property
    @override
    def log_dir(self) -> str:
        """The run's folder, which holds one ``seed_<k>/`` folder per seed."""
        return str(self._run_directory() if callable(self._run_directory) else self._run_directory)

    @property
    @override
    def save_dir(self) -> str:
        return self.log_dir

    def seed_logger(self, seed: int) -> CSVLogger:
        """The CSV logger of ``seed``'s folder ``<run dir>/seed_<seed>/``."""
        if self._loggers is None:
            root = self.log_dir
            self._loggers = {s: CSVLogger(save_dir=root, name="", version=f"seed_{s}") for s in self.seeds}
        return self._loggers[seed]

    @override
    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        per_seed: dict[int, dict[str, Any]] = {seed: {} for seed in self.seeds}
        for key, value in metrics.items():
            seed, name = split_seed_key(key)
            for target in self.seeds if seed is None else [seed]:
                if target in per_seed:
                    per_seed[target][name] = value
        for seed, values in per_seed.items():
            if values:
                self.seed_logger(seed).log_metrics(values, step)

    @override
    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        for seed in self.seeds:
            self.seed_logger(seed).log_hyperparams(params)

    @override
    @rank_zero_only
    def save(self) -> None:
        for seed in self.seeds if self._loggers is not None else []:
            self.seed_logger(seed).save()

    @override
    @rank_zero_only
    def finalize(self, status: str) -> None:
        for seed in self.seeds if self._loggers is not None else []:
            self.seed_logger(seed).finalize(status)


def seed_views(pl_module: Any) -> list[tuple[str, Any]]:
    """``(key prefix, module)`` per seed: ``[("", pl_module)]`` for one seed, else ``("seed_<k>/", seed k's module)``.

    Callbacks that draw from the model (pictures, mode histograms) run once per view, so each seed of a
    multi-seed run gets what its single run gets, under its own prefix.
    """
    if not isinstance(pl_module, MultiSeedModule) or pl_module.num_seeds == 1:
        return [("", pl_module)]
    return [(SEED_PREFIX.format(seed), pl_module.seed_module(i)) for i, seed in enumerate(pl_module.seeds)]
