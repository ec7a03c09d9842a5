"""The training loop of :func:`~mine_gan.estimate_mi`: Adam on a MINE bound, a weight average, a plateau stop.

The loop trains on minibatches of a training split, keeps a Polyak–Ruppert average of the critic's weights
(through :class:`torch.optim.swa_utils.AveragedModel`), scores the average on a validation split every few
steps, and asks a :class:`PlateauStopper` whether to go on, as cbg-ethz/bmi's neural estimators do.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch
from torch import Tensor
from torch.optim.swa_utils import AveragedModel

from mine_gan.estimators.mine import MINE
from mine_gan.validation import check_choice, check_positive, check_unit_interval

__all__ = ["PlateauStopper", "Schedule", "TrainingRun", "averaged_model", "train_estimator"]

Schedule = Literal["constant", "cosine"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)


class PlateauStopper:
    r"""Early stopping on a validation value that should rise, like Lightning's ``EarlyStopping(mode="max")``.

    It keeps the ``best`` value seen, a ``wait`` (checks since the last gain of more than ``min_delta``
    over the best before it) and a ``patience``. A plateau is declared once ``wait`` reaches both
    ``patience`` and the number of checks it took to reach the last real gain, and the mean of the last
    ``window`` values no longer exceeds the mean of the ``window`` before them by ``min_delta`` (nor the
    last value the one ``window`` checks back). The last two guards keep slow, steady gains (high MI, many
    dimensions) and the recovery after a collapse of an unstable DV run from being cut short.

    .. math:: \text{stop} \iff w \ge \max(p, k^\ast) \;\wedge\; \bar v_{\text{last } m} \le
              \bar v_{\text{previous } m} + \delta

    with ``w`` the wait, ``p`` the patience, ``k*`` the check of the last gain and ``m`` the window.

    Args:
        patience: checks without a gain of more than ``min_delta`` before a plateau can be declared.
        min_delta: the smallest gain (in the value's units, nats here) that counts as one.
        window: checks per mean in the still-rising test; default ``max(1, patience // 2)``.

    Example:
        >>> stopper = PlateauStopper(patience=2, min_delta=0.01)
        >>> [stopper.update(v) for v in [0.1, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6]]
        [False, False, False, False, False, True, True]
        >>> stopper.best, stopper.best_check, stopper.wait
        (0.6, 3, 4)
    """

    def __init__(self, patience: int, min_delta: float = 1e-3, window: int | None = None) -> None:
        check_positive("patience", patience)
        check_positive("min_delta", min_delta, strict=False)
        if window is not None:
            check_positive("window", window)
        self.patience, self.min_delta = patience, min_delta
        self.window = window if window is not None else max(1, patience // 2)
        self.best = -math.inf
        self.best_check = 0  # the check of the best value (the first check is 1)
        self.improved_check = 0  # the check of the last gain of more than min_delta
        self.wait = 0
        self.values: list[float] = []

    @property
    def is_best(self) -> bool:
        """Whether the last value is the best so far (the critic to keep)."""
        return bool(self.values) and self.best_check == len(self.values)

    def update(self, value: float) -> bool:
        """Record one validation value; return whether training should stop."""
        self.values.append(value)
        if value > self.best + self.min_delta:
            self.improved_check, self.wait = len(self.values), 0
        else:
            self.wait += 1
        if value > self.best:
            self.best, self.best_check = value, len(self.values)
        return self.wait >= max(self.patience, self.improved_check) and not self._still_rising()

    def _still_rising(self) -> bool:
        values, m = self.values, self.window
        if len(values) < 2 * m:
            return True
        in_mean = sum(values[-m:]) / m > sum(values[-2 * m : -m]) / m + self.min_delta
        return in_mean or values[-1] > values[-1 - m] + self.min_delta


def averaged_model(estimator: MINE, decay: float, warmup: int = 10) -> AveragedModel:
    r"""An exponential moving average of ``estimator``'s weights (Polyak & Juditsky 1992) with a warm-up.

    The decay after ``n`` averaged steps is ``min(decay, (1 + n) / (warmup + n))``, as in TensorFlow's
    ``ExponentialMovingAverage``, so that early weights are forgotten quickly instead of anchoring the
    average at the initialization. Buffers (MINE's ``log_ema``) follow the model.

    .. math:: \bar\theta_n = \gamma_n \bar\theta_{n-1} + (1 - \gamma_n)\,\theta_n, \quad
              \gamma_n = \min\big(\gamma, \tfrac{1 + n}{w + n}\big)

    Args:
        estimator: the module being trained.
        decay: ``γ`` in ``[0, 1)``.
        warmup: ``w`` above; larger means a longer warm-up.

    Returns:
        A :class:`~torch.optim.swa_utils.AveragedModel`; call ``update_parameters(estimator)`` after each
        step and read the average from ``.module``.

    Example:
        >>> from mine_gan.estimators import ConcatCritic
        >>> mine = MINE(ConcatCritic(1, 1, hidden_dims=(4,)))
        >>> average = averaged_model(mine, decay=0.5)
        >>> average.update_parameters(mine)   # the first update copies the weights
        >>> with torch.no_grad():
        ...     _ = [p.add_(1.0) for p in mine.parameters()]
        >>> average.update_parameters(mine)   # γ_1 = min(0.5, 2 / 11): most of the step is taken
        >>> first = next(average.module.parameters()) - next(mine.parameters())
        >>> bool(torch.allclose(first, torch.full_like(first, -2 / 11)))
        True
    """
    check_unit_interval("average_decay", decay)

    def ema(averaged: Tensor, current: Tensor, num_averaged: Tensor | int) -> Tensor:
        # Tensor arithmetic on the parameters' device: reading the count as a number would sync with a GPU.
        n = torch.as_tensor(num_averaged, dtype=torch.float64, device=averaged.device)
        return averaged.lerp(current, (1.0 - ((1 + n) / (warmup + n)).clamp(max=decay)).to(averaged.dtype))

    # A per-tensor avg_fn rather than a multi_avg_fn: grouping tensors by device queries the CUDA driver
    # at every step, which costs more than the few lerps of a critic on the CPU. The count lives with the
    # parameters, so that it is not copied to the GPU for every parameter at every step.
    device = next(estimator.parameters()).device
    average = AveragedModel(estimator, device=device, avg_fn=ema)
    for p in average.parameters():
        p.requires_grad_(False)  # never trained, and its copies skip autograd
    return average


@dataclass
class TrainingRun:
    """What :func:`train_estimator` hands back.

    Attributes:
        state: the ``state_dict`` of the kept estimator (the best validated average, else the last).
        history: ``{"step": [...], "train": [...], "valid": [...]}``: training-batch estimates averaged
            over each interval between checks, and validation values at the same steps.
        best_step: the step of the kept state.
        best_value: its validation value (NaN without validation).
        steps_taken: optimizer steps taken.
        stop_reason: ``"plateau"`` or ``"max_steps"``.
    """

    state: dict[str, Tensor] = field(repr=False)
    history: dict[str, list[float]] = field(repr=False)
    best_step: int = 0
    best_value: float = math.nan
    steps_taken: int = 0
    stop_reason: str = "max_steps"


def train_estimator(
    estimator: MINE,
    x: Tensor,
    z: Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    validate: Callable[[MINE], float] | None,
    every: int,
    stopper: PlateauStopper | None = None,
    keep_best: bool = True,
    average_decay: float = 0.99,
    schedule: Schedule = "constant",
    step_cap: Callable[[float], int] | None = None,
    rng: torch.Generator | None = None,
    device_rng: torch.Generator | None = None,
    progress: bool = False,
) -> TrainingRun:
    r"""Train ``estimator`` with Adam on minibatches of ``(x, z)``, validating a weight average every ``every`` steps.

    Epochs are random permutations of the training pairs (drawn from ``rng``); a tail shorter than a
    batch is dropped. The loss is :meth:`MINE.loss`, whose negative is the batch estimate of

    .. math:: \hat I = \mathbb{E}_P[T_\theta] - \log \mathbb{E}_Q[e^{T_\theta}]

    (Belghazi et al. 2018, eq. 10, with the bound's own gradient, §3.2).

    Args:
        estimator: the :class:`MINE` to train (in place).
        x: ``(N, ...)`` training samples of X, on the training device.
        z: ``(N, ...)`` training samples of Z, paired with ``x``.
        steps: the most optimizer steps (unless ``step_cap`` raises the cap); the cosine schedule's length.
        batch_size: pairs per step, at most ``N``.
        lr: Adam's learning rate.
        validate: scores an estimator (the weight average) on validation pairs; ``None`` trains blind.
        every: steps between validation checks (the last step is always checked).
        stopper: stops training at a plateau of the validation value; ``None`` runs ``steps`` steps.
        keep_best: keep the best validated average instead of the last one.
        average_decay: decay of the weight average (:func:`averaged_model`); 0 validates the raw weights.
        schedule: ``"constant"`` lr, or ``"cosine"`` decay to ``lr / 10`` over ``steps``.
        step_cap: the most steps as a function of the best validation value so far, asked at every check
            (never below ``steps``): a run still climbing toward a large value may go on for longer.
        rng: CPU random stream (``torch.Generator``) for the epochs' permutations.
        device_rng: random stream for MINE's shuffles of ``z`` (on ``x``'s device).
        progress: show a progress bar.

    Returns:
        :class:`TrainingRun`; load ``run.state`` into ``estimator`` to use the kept critic.
    """
    check_choice("schedule", schedule, SCHEDULES)
    n = x.shape[0]
    average = averaged_model(estimator, average_decay) if average_decay > 0 else None
    scored = average.module if average is not None else estimator
    optimizer = torch.optim.Adam(estimator.parameters(), lr=lr, foreach=True)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 10)
        if schedule == "cosine"
        else None
    )
    history: dict[str, list[float]] = {"step": [], "train": [], "valid": []}
    best_valid = validate(scored) if validate is not None else -math.inf
    best_step, best_state = 0, copy.deepcopy(scored.state_dict())
    stop_reason, running = "max_steps", torch.zeros((), device=x.device)
    bar = _progress_bar(steps) if progress else None
    # Epochs' orders drawn on the CPU and copied once an epoch, not an index batch at every step.
    permutation, cursor = torch.randperm(n, generator=rng).to(x.device), 0
    cap, step = steps, 0
    while step < cap:
        step += 1
        if cursor + batch_size > n:
            permutation, cursor = torch.randperm(n, generator=rng).to(x.device), 0
        idx = permutation[cursor : cursor + batch_size]
        cursor += batch_size
        loss = estimator.loss(x[idx], z[idx], rng=device_rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if average is not None:
            average.update_parameters(estimator)
        running += loss.detach()
        if bar is not None:
            bar.update(1)
        if step % every and step != cap:
            continue
        valid = validate(scored) if validate is not None else math.nan
        history["step"].append(step)
        history["train"].append(-float(running) / (step - (history["step"][-2] if len(history["step"]) > 1 else 0)))
        history["valid"].append(valid)
        running.zero_()
        if bar is not None:
            bar.set_postfix(train=f"{history['train'][-1]:.3f}", valid=f"{valid:.3f}")
        stop = stopper.update(valid) if stopper is not None else False
        if not keep_best or validate is None or valid > best_valid:
            best_valid, best_step, best_state = valid, step, copy.deepcopy(scored.state_dict())
        if stop:
            stop_reason = "plateau"
            break
        if step_cap is not None and validate is not None:
            cap = max(cap, step_cap(best_valid))
            if bar is not None:
                bar.total = cap
    if bar is not None:
        bar.close()
    if not keep_best or validate is None:
        best_step, best_state, best_valid = step, scored.state_dict(), history["valid"][-1]
    return TrainingRun(best_state, history, best_step, best_valid, steps_taken=step, stop_reason=stop_reason)


def _progress_bar(total: int) -> Any:
    from tqdm.auto import tqdm  # tqdm comes with pytorch-lightning

    return tqdm(total=total, desc="estimate_mi", unit="step")
