"""The best epoch on validation, the same rule for every method of the bottleneck study.

Every row of ``run.py`` and ``tune.py`` is tested at the epoch with the lowest validation error (the earliest
of equals), not at its last epoch: the usual model selection, applied alike to the deterministic net, dropout,
deep VIB and MINE-IB. :class:`BestOnValidation` keeps that epoch's weights in memory and puts them back when
training ends, so ``trainer.test`` then scores them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import pytorch_lightning as pl
from typing_extensions import override

__all__ = ["BestOnValidation", "best_epoch"]


def best_epoch(val_errors: Sequence[float]) -> int:
    """Index of the lowest validation error; the earliest among equals (fewer epochs, same evidence).

    NaN (a diverged epoch) never wins.

    Example:
        >>> best_epoch([7.0, 5.2, 5.0, 5.0, 6.1])
        2
    """
    if not val_errors:
        raise ValueError("`val_errors` is empty: no validation epoch ran")
    finite = [(e, i) for i, e in enumerate(val_errors) if not math.isnan(e)]
    if not finite:
        raise ValueError(f"every validation error is NaN: {list(val_errors)}")
    return min(finite)[1]


class BestOnValidation(pl.Callback):
    """Keeps the weights of the epoch with the lowest validation error and restores them at the end of ``fit``.

    Reads ``1 − val/acc`` after each training epoch's validation (``on_train_epoch_end``, when the epoch's
    validation metrics are final). Records every epoch's error in :attr:`val_errors` and the chosen epoch in
    :attr:`best` (0-based); ``last_val_error`` is the last epoch's. The copy lives in memory: one model's
    ``state_dict`` (the study's nets are a few MB).

    Args:
        monitor: the accuracy metric whose complement is the validation error.
    """

    def __init__(self, monitor: str = "val/acc") -> None:
        self.monitor = monitor
        self.val_errors: list[float] = []
        self.best: int | None = None
        self._state: dict | None = None

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.monitor not in trainer.callback_metrics:
            raise RuntimeError(
                f"BestOnValidation needs `{self.monitor}` after every epoch: validate every epoch "
                "(check_val_every_n_epoch=1) with limit_val_batches > 0"
            )
        self.val_errors.append(100.0 * (1.0 - float(trainer.callback_metrics[self.monitor])))
        if best_epoch(self.val_errors) == len(self.val_errors) - 1:
            self.best = len(self.val_errors) - 1
            self._state = copy.deepcopy(pl_module.state_dict())

    @override
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._state is not None:
            pl_module.load_state_dict(self._state)

    @property
    def best_val_error(self) -> float:
        """Validation error (%) of the chosen epoch."""
        if self.best is None:
            raise RuntimeError("no epoch has been validated")
        return self.val_errors[self.best]

    @override
    def state_dict(self) -> dict:
        return {"val_errors": self.val_errors, "best": self.best}

    @override
    def load_state_dict(self, state_dict: dict) -> None:
        self.val_errors, self.best = list(state_dict["val_errors"]), state_dict["best"]
