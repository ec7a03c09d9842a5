"""A callback that times training iterations, importable by any version of the package (it imports none of it)."""

from __future__ import annotations

import json
import time

import pytorch_lightning as pl


class IterationTimer(pl.Callback):
    """Prints ``{"seconds_per_batch": ...}`` over the training batches after the first ``warmup``."""

    def __init__(self, warmup: int = 20) -> None:
        self.warmup = warmup
        self._batches = 0
        self._start: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if self._batches == self.warmup:
            self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self._batches += 1

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001
        timed = self._batches - self.warmup
        seconds = (time.perf_counter() - self._start) / timed if self._start is not None and timed > 0 else float("nan")
        print(json.dumps({"seconds_per_batch": seconds, "batches": timed}), flush=True)
