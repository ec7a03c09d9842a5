"""What every experiment script shares: models from the CLI's YAML configs, a quiet trainer, result files.

Scripts build model and data with ``mine_gan.cli.cli(..., run=False)`` from the same YAML files ``mine-gan fit``
uses, so the hyperparameters live in one place; only seeds and the scale (iterations, seeds, samples) are
script flags. Each run of a script at a scale writes ``<name>_<scale>.csv``, ``<name>_<scale>.md``, PNGs and
``meta_<scale>.json`` (command, scale, wall time, machine) into its results folder, which
``experiments/make_results.py`` collects into ``experiments/RESULTS.md``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

EXPERIMENTS = Path(__file__).resolve().parent


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def from_config(
    config: Path, seed: int, overrides: Sequence[str] = ()
) -> tuple[pl.LightningModule, pl.LightningDataModule]:
    """Model and data module of a ``mine-gan`` YAML config, seeded, without its logger and callbacks."""
    from mine_gan.cli import cli

    args = [
        "--config",
        str(config),
        "--trainer.logger=false",
        "--trainer.callbacks=[]",
        "--trainer.enable_checkpointing=false",
        f"--seed_everything={seed}",
        f"--data.init_args.seed={seed}",
        *overrides,
    ]
    built = cli(args, run=False)
    return built.model, built.datamodule


def fit(model: pl.LightningModule, data: pl.LightningDataModule, epochs: int = 1, accelerator: str = "cpu") -> float:
    """Train without logging, checkpoints or validation; returns the wall time in seconds."""
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(model, data)
    return time.perf_counter() - start


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} thread(s)/run), load average {load:.1f} at the end (shared machine)"
    )


def write_results(out: Path, name: str, rows: list[dict[str, Any]], table: str, scale: str, wall: float) -> None:
    """``<name>_<scale>.csv`` (one row per run), ``<name>_<scale>.md`` (the summary table), ``meta_<scale>.json``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}_{scale}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / f"{name}_{scale}.md").write_text(table.rstrip() + "\n")
    write_meta(out, scale, wall)


def write_meta(out: Path, scale: str, wall: float) -> None:
    """``meta_<scale>.json``: the command line that made ``out``'s ``*_<scale>`` files, wall time, machine."""
    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(sys.argv[0], EXPERIMENTS.parent), *sys.argv[1:]]
    )
    meta = {
        "command": command,
        "scale": scale,
        "wall_seconds": round(wall, 1),
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (out / f"meta_{scale}.json").write_text(json.dumps(meta, indent=2) + "\n")


def mean_std(values: list[float]) -> str:
    t = torch.tensor(values, dtype=torch.float64)
    if len(values) == 1:
        return f"{float(t[0]):.3g}"
    return f"{float(t.mean()):.3g} ± {float(t.std()):.2g}"
