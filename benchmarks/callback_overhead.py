"""Wall time of a small training run with and without ``MutualInformationMonitor``.

The run: an MLP classifier (64 → 256 → 256 → 10) on scikit-learn's bundled 8×8 digits, batch 128, on
CPU; the monitor measures I(input; last hidden layer) with its default critic, bound and optimizer. The
target is an overhead of at most 20 % at the default update frequency (``every_n_steps``'s default);
other frequencies, 1 (a critic step every batch) included, are shown for context. Runs with and
without the monitor are interleaved and the median of ``--repeats`` is reported, so a load change on a
shared machine hits both alike.

    python benchmarks/callback_overhead.py [--steps 200] [--repeats 5] [--every 1 5 10 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import time
import warnings
from typing import Any

import pytorch_lightning as pl
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mine_gan.callbacks import MutualInformationMonitor

DEFAULT_EVERY = inspect.signature(MutualInformationMonitor).parameters["every_n_steps"].default


class Classifier(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
        self.head = nn.Linear(256, 10)

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        x, y = batch
        h = self.body(x)
        loss = nn.functional.cross_entropy(self.head(h), y)
        return {"loss": loss, "mi": {"x_h": (x, h)}}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def loader(batch_size: int) -> DataLoader:
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, drop_last=True)


def timed_fit(steps: int, batch_size: int, every: int | None) -> float:
    pl.seed_everything(0, verbose=False)
    callbacks = [] if every is None else [MutualInformationMonitor(["x_h"], every_n_steps=every)]
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    data = loader(batch_size)
    start = time.perf_counter()
    trainer.fit(Classifier(), data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, nargs="+", default=sorted({1, 5, DEFAULT_EVERY, 20}))
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (1: steadier on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    timed_fit(20, args.batch_size, 1)  # warm-up: imports, allocator, first-call costs

    settings: list[int | None] = [None, *args.every]
    times: dict[int | None, list[float]] = {s: [] for s in settings}
    for _ in range(args.repeats):
        for every in settings:
            times[every].append(timed_fit(args.steps, args.batch_size, every))
    base = statistics.median(times[None])

    print(
        f"MLP classifier on digits, {args.steps} steps, batch {args.batch_size}, torch threads "
        f"{torch.get_num_threads()}, median of {args.repeats}"
    )
    print(f"{'run':<38} {'wall s':>8} {'ms/step':>8} {'ratio':>7} {'overhead':>9}")
    for every in settings:
        median = statistics.median(times[every])
        name = "without monitor" if every is None else f"monitor, every_n_steps={every}"
        name += " (default)" if every == DEFAULT_EVERY else ""
        ratio = median / base
        print(f"{name:<38} {median:8.2f} {1e3 * median / args.steps:8.2f} {ratio:7.3f} {100 * (ratio - 1):8.1f}%")
    default = statistics.median(times[DEFAULT_EVERY]) / base if DEFAULT_EVERY in times else float("nan")
    print(f"overhead ratio at the default frequency: {default:.3f} (target <= 1.20)")


if __name__ == "__main__":
    main()
