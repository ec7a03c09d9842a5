"""Pictures and histograms to whatever loggers a run has: the one place that knows logger types.

Each logger gets the picture through its own API (W&B ``log_image`` / ``wandb.plot.bar``, TensorBoard
``add_image``); when no logger of the run can show pictures (CSV, none), they are written as PNG (and
histograms as CSV) files under ``<run directory>/media/``. Callers pass plain arrays and counts, never a
logger-specific object. Call on the global-zero process only. Under ``fast_dev_run`` (Lightning's smoke
run, which suppresses logging) pictures are made but not written anywhere.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from mine_gan.callbacks.seed_logger import split_seed_key

__all__ = ["figure_to_array", "log_histogram", "log_picture", "run_directory"]


def run_directory(trainer: pl.Trainer) -> Path:
    """Where this run's files go: the W&B run folder, the CSV/TensorBoard version folder, or ``default_root_dir``."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            run = logger.experiment
            files = getattr(run, "dir", None)
            if files:
                return Path(files).parent  # .../wandb/<run>/ (files/ holds media and the config)
        if isinstance(logger, (CSVLogger, TensorBoardLogger)):
            return Path(logger.log_dir)
    return Path(trainer.default_root_dir)


def figure_to_array(figure) -> np.ndarray:  # noqa: ANN001 - a matplotlib Figure
    """Render a matplotlib figure to an ``(H, W, 3)`` uint8 array and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    buffer.seek(0)
    return (plt.imread(buffer)[..., :3] * 255).round().astype(np.uint8)


def _media_file(trainer: pl.Trainer, key: str, step: int, suffix: str) -> Path:
    """``<run dir>/media/<key>_step<step>.<suffix>``; a ``seed_<k>/`` key goes to ``<run dir>/seed_<k>/media/``."""
    seed, name = split_seed_key(key)
    folder = run_directory(trainer) / ("" if seed is None else f"seed_{seed}") / "media"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}_step{step:07d}.{suffix}"


def log_picture(trainer: pl.Trainer, key: str, image: np.ndarray, step: int | None = None) -> list[Path]:
    """Log an ``(H, W, 3)`` uint8 picture under ``key``; returns the PNG files written (when no logger shows it)."""
    step = trainer.global_step if step is None else step
    if trainer.fast_dev_run:
        return []
    shown = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[image])
            shown = True
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, step, dataformats="HWC")
            shown = True
    if shown:
        return []
    import matplotlib.pyplot as plt

    path = _media_file(trainer, key, step, "png")
    plt.imsave(path, image)
    return [path]


def log_histogram(
    trainer: pl.Trainer, key: str, labels: Sequence[str], counts: Sequence[int], step: int | None = None
) -> list[Path]:
    """Log a histogram (one bar per label): a W&B table and bar plot, else a CSV file and a PNG bar plot."""
    step = trainer.global_step if step is None else step
    if trainer.fast_dev_run:
        return []
    rows = [[str(label), int(count)] for label, count in zip(labels, counts, strict=True)]
    wandb_loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
    for logger in wandb_loggers:
        import wandb

        table = wandb.Table(columns=["mode", "count"], data=rows)
        logger.experiment.log({f"{key}/table": table, key: wandb.plot.bar(table, "mode", "count", title=key)})
    if wandb_loggers:
        return []
    import matplotlib.pyplot as plt

    table_path = _media_file(trainer, key, step, "csv")
    with table_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["mode", "count"])
        writer.writerows(rows)
    figure, ax = plt.subplots(figsize=(max(4.0, min(0.25 * len(counts), 16.0)), 3.0))
    ax.bar(range(len(counts)), counts, width=1.0 if len(counts) > 50 else 0.8)
    ax.set_xlabel("mode")
    ax.set_ylabel("samples")
    ax.set_title(key)
    return [table_path, *log_picture(trainer, f"{key}/plot", figure_to_array(figure), step)]
