"""``estimate_mi``: train a fresh estimator on a training split, report on a held-out split."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from mine_gan import functional as MF
from mine_gan.estimators.critics import ConcatCritic, ConvCritic, SeparableCritic, pairwise_scores
from mine_gan.estimators.mine import BOUNDS, MINE, REPORTED_SET_BOUND, Bound
from mine_gan.estimators.preprocessing import MarginalTransform, Preprocess
from mine_gan.estimators.training import SCHEDULES, PlateauStopper, Schedule, train_estimator
from mine_gan.seeding import seeded_generator
from mine_gan.validation import as_tensor, check_choice, check_paired, check_positive, check_unit_interval

__all__ = ["MIEstimate", "default_steps", "estimate_mi", "heldout_estimate"]

_Z95 = 1.959963984540054

Stop = Literal["plateau", "max_steps"]
STOPS: tuple[str, ...] = get_args(Stop)
_VALID_ROWS = 4096  # validation pairs scored per check, at most
_VALID_MARGINAL_ROWS = 16384  # product-of-marginals pairs per check, at most (5 per row below that)
_EVAL_MARGINAL_ROWS = 400_000  # held-out product-of-marginals pairs, at most
_DEFAULT_WIDTHS = (128, 128)
_PLATEAU_TOLERANCE = 1e-3  # nats: smaller gains of the validation bound do not reset the patience
_STEP_GROWTH = 4.0  # the most the step cap grows with the validation estimate (default_steps)


@dataclass
class MIEstimate:
    """Result of :func:`estimate_mi`.

    Attributes:
        value: the held-out estimate of I(X; Z) in nats.
        stderr: its standard error (delta method over the held-out samples).
        ci: 95 % normal confidence interval ``(low, high)``.
        bound: the bound the critic was trained and evaluated with.
        history: ``{"step": [...], "train": [...], "valid": [...]}``, training-batch estimates
            (averaged over each logging interval) and validation-split estimates at the same steps.
        estimator: the trained :class:`~mine_gan.MINE` (its critic is ``estimator.critic``).
        transform: ``(x_transform, z_transform)`` fitted on the training split; apply them to new
            samples before calling the critic.
        n_train, n_valid, n_eval: sample counts of the three splits.
        best_step: the training step of the critic that was kept (the last step without early stopping).
        steps_taken: optimizer steps actually taken.
        stop_reason: ``"plateau"`` (the validation bound stopped rising) or ``"max_steps"``.
        seconds: wall time of the call.
    """

    value: float
    stderr: float
    ci: tuple[float, float]
    bound: str
    history: dict[str, list[float]] = field(repr=False)
    estimator: MINE = field(repr=False)
    transform: tuple[MarginalTransform, MarginalTransform] = field(repr=False)
    n_train: int = 0
    n_valid: int = 0
    n_eval: int = 0
    best_step: int = 0
    steps_taken: int = 0
    stop_reason: str = "max_steps"
    seconds: float = 0.0

    @property
    def critic(self) -> nn.Module:
        return self.estimator.critic

    def __float__(self) -> float:
        return self.value


@torch.no_grad()
def heldout_estimate(
    estimator: MINE,
    x: Tensor,
    z: Tensor,
    *,
    marginal_pairs: int = 20,
    chunk: int = 8192,
    rng: torch.Generator | None = None,
    infonce_block: int = 4096,
) -> tuple[float, float]:
    r"""Evaluate a trained estimator's bound on a whole (held-out) sample set, in bounded memory.

    The joint term uses every pair ``(x_i, z_i)``. The product-of-marginals term uses
    ``marginal_pairs`` random partners ``z_j`` (``j ≠ i``) for every ``x_i``. Scores are reduced chunk
    by chunk to the bound's :class:`~mine_gan.functional.BoundStatistics`, so memory stays at
    ``chunk`` critic evaluations whatever ``N``. InfoNCE uses the score matrix of blocks of
    ``infonce_block`` rows (the whole set when ``N`` is smaller), so its value is capped at
    ``log min(N, infonce_block)`` and its cost is linear in ``N``.

    .. math:: \hat I_{\mathrm{DV}} = \frac{1}{N}\sum_i T(x_i, z_i)
              - \log \frac{1}{Nk}\sum_{i, j} e^{T(x_i, z_{\pi_j(i)})}

    Args:
        estimator: a :class:`MINE` with a trained critic.
        x: ``(N, ...)`` samples of X.
        z: ``(N, ...)`` samples of Z, paired with ``x``.
        marginal_pairs: product-of-marginals samples per ``x_i``.
        chunk: critic evaluations per forward pass.
        rng: random stream (``torch.Generator``) for the pairing (re-seed it to score several critics on the
            same pairs).
        infonce_block: rows per InfoNCE score matrix.

    Returns:
        ``(value, stderr)`` in nats. ``stderr`` is a delta-method standard error
        (:func:`mine_gan.functional.bound_stderr`) that treats the ``N`` held-out samples (not the
        number of pairs) as the effective sample size.

    Example:
        >>> import torch
        >>> from mine_gan import MINE, ConcatCritic
        >>> _ = torch.manual_seed(0)
        >>> mine = MINE(ConcatCritic(1, 1, hidden_dims=(8,)))
        >>> x = torch.randn(1000, 1)
        >>> value, stderr = heldout_estimate(mine, x, x + torch.randn(1000, 1))
        >>> abs(value) < 0.1 and 0 < stderr < 0.1   # an untrained critic sees almost nothing
        True
    """
    check_positive("marginal_pairs", marginal_pairs)
    check_positive("chunk", chunk)
    check_positive("infonce_block", infonce_block)
    critic = estimator.critic
    was_training = critic.training
    critic.eval()
    try:
        n = x.shape[0]
        if estimator.bound == "infonce":
            terms = []
            for i in range(0, n, infonce_block):
                scores = pairwise_scores(critic, x[i : i + infonce_block], z[i : i + infonce_block])
                terms.append(torch.log_softmax(scores, dim=1).diagonal() + math.log(scores.shape[0]))  # MF.infonce
            all_terms = torch.cat(terms).double()
            return float(all_terms.mean()), float(all_terms.std() / math.sqrt(n))
        set_bound = REPORTED_SET_BOUND[estimator.bound]
        rows = max(1, chunk // (1 + marginal_pairs))
        parts = []
        for i in range(0, n, rows):
            xi, m = x[i : i + rows], min(rows, n - i)
            # Partner i + offset (mod N) with offset in [1, N): never the row's own z.
            # Drawn where ``rng`` lives (torch refuses another device), else beside ``z``.
            device = rng.device if rng is not None else z.device
            offset = torch.randint(1, n, (m, marginal_pairs), generator=rng, device=device)
            partner = ((torch.arange(i, i + m, device=device).unsqueeze(1) + offset) % n).reshape(-1).to(z.device)
            t_joint = critic(xi, z[i : i + m])
            t_marginal = critic(xi.repeat_interleave(marginal_pairs, dim=0), z[partner])
            parts.append(MF.bound_statistics(t_joint.double(), t_marginal.double(), set_bound, estimator.smile_tau))
        stats = MF.merge_bound_statistics(*parts)
        value = MF.bound_from_statistics(stats, set_bound)
        return float(value), float(MF.bound_stderr(stats, set_bound, marginal_samples=n))
    finally:
        critic.train(was_training)


def default_steps(n: int, mi: float = 0.0) -> int:
    r"""The step cap of :func:`estimate_mi` for ``n`` pairs whose validation bound has reached ``mi`` nats.

    1 500 steps at 10 000 pairs, growing as ``n^{0.3}``, times the validation estimate in nats
    (between 1 and 4): the DV bound's gradient weighs the product-of-marginals samples by ``e^T``, so a
    critic of a large MI learns from fewer effective samples per step and climbs for longer (25 + 25
    dimensions at 3.6 nats still gain at 4 000 steps; ``benchmarks/estimate_mi_speed.py``).

    .. math:: S(n, \hat I) = \operatorname{clip}\big(1500\,(n / 10^4)^{0.3}, 300, 6000\big)
              \cdot \operatorname{clip}(\hat I / 1\,\mathrm{nat}, 1, 4), \text{ rounded to 50}

    Args:
        n: pairs passed to :func:`estimate_mi`.
        mi: the best validation estimate so far, in nats.

    Example:
        >>> default_steps(10_000), default_steps(100_000), default_steps(10**6), default_steps(10_000, mi=3.6)
        (1500, 3000, 5950, 5400)
    """
    check_positive("n", n)
    base = min(6000, max(300, 1500 * (n / 10_000) ** 0.3))
    return int(50 * round(base * min(_STEP_GROWTH, max(1.0, mi)) / 50))


def _default_critic(x: Tensor, z: Tensor, bound: str) -> nn.Module:
    if x.ndim == 4:
        return ConvCritic(x.shape[1], x.shape[2], z.shape[1])
    if bound == "infonce":
        # InfoNCE needs all N² scores of every batch: one matrix product instead of N² MLP passes.
        return SeparableCritic(x.shape[1], z.shape[1])
    # SiLU rather than ReLU: for Gaussian-like data the optimal critic log p(x, z) / p(x)p(z) is a smooth
    # (quadratic) function, which a smooth activation fits from far fewer pairs (benchmarks/estimate_mi_speed.py
    # and issue 14: 0.713 against 0.686 nats on fresh data, truth 0.719, for the same 7 200 training pairs).
    return ConcatCritic(x.shape[1], z.shape[1], hidden_dims=_DEFAULT_WIDTHS, activation="silu")


def estimate_mi(
    x: Any,
    z: Any,
    *,
    bound: Bound = "mine",
    critic: nn.Module | None = None,
    steps: int | None = None,
    batch_size: int = 512,
    lr: float = 2e-3,
    eval_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    early_stopping: bool = True,
    stop: Stop = "plateau",
    patience: int = 8,
    valid_every: int | None = 50,
    average_decay: float = 0.99,
    schedule: Schedule = "constant",
    preprocess: Preprocess = "rank_gauss",
    ema_decay: float = 0.99,
    seed: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> MIEstimate:
    r"""Estimate the mutual information ``I(X; Z)`` in nats from paired samples.

    Splits the pairs three ways: ``eval_fraction`` is held out for the reported value, and of the rest
    ``valid_fraction`` validates while the remainder trains a fresh :class:`~mine_gan.MINE` with Adam
    (:func:`~mine_gan.estimators.training.train_estimator`, the loop; this function is the API).
    Training keeps a Polyak–Ruppert average of the critic's weights (``average_decay``) and scores that
    average every ``valid_every`` steps on a fixed validation subsample with fixed partners, so that
    successive checkpoints are compared on the same pairs. With ``stop="plateau"`` training ends once
    the validation bound has not risen for ``patience`` checks and for as many steps as it took to reach
    its best (:class:`~mine_gan.estimators.training.PlateauStopper`); ``steps`` caps the run either
    way, and by default the cap grows with the validation estimate (:func:`default_steps`), since a
    critic of a large MI is still climbing when one of a small MI has long converged. With
    ``early_stopping`` the best validated critic is
    kept, since a flexible critic overfits small or high-dimensional sets (for independent 20-d
    Gaussians the last critic's held-out value is clearly negative). The reported value comes from
    pairs that neither trained nor selected the critic, so it is not inflated. Nothing costs ``N × N``:
    validation and the held-out marginal term use at most a fixed number of pairs, so the cost beyond
    the O(N log N) preprocessing does not grow with ``N`` once ``steps`` is reached. The held-out
    marginal term draws 20 partners per row, times the validation estimate in nats (up to 10), since
    at a large MI it hangs on the few pairs with a large ``e^T``.

    .. math:: \hat I = \frac{1}{n}\sum_i T(x_i, z_i) - \log \frac{1}{nk}\sum_{i, j} e^{T(x_i, z_{\pi_j(i)})}

    Preprocessing (``preprocess``, default ``"rank_gauss"``): each coordinate of ``x`` and of ``z`` is
    mapped through its training-split empirical CDF and the normal quantile. ``I(X; Z)`` is unchanged
    by such monotone per-coordinate maps, and the critic then sees well-scaled inputs whatever the
    marginals (Cauchy tails, ``x³``, ``sinh``). Use ``"standardize"`` or ``"none"`` to switch it off;
    4-D image inputs are never preprocessed.

    Nothing undoes maps that mix coordinates, and the estimate is not invariant to them
    (``benchmarks/results/estimate_mi_invariance.txt``, 10 000 pairs): a random rotation of ``x`` and of
    ``z`` moves it by at most 0.07 nats, but a rotation whose angle grows with the radius (a spiral) or a
    three-layer coupling flow with random weights loses 0.08–0.55 nats of 1 nat at 2 + 2 dimensions and
    3.3–5.3 of 5 nats at 25 + 25, with every bound. Large MI in many dimensions is short too: at 25 + 25
    dimensions and 3.6 nats, 10 000 pairs give 0.2–0.6 nats too little whatever the critic or training
    bound (issue 31); the critic overfits the 7 200 training pairs (with 100 000 pairs and ``bound="js"``,
    within 0.1 on one draw).

    The defaults before issue 14 are ``critic=ConcatCritic(dx, dz)`` (ReLU), ``steps=3000``,
    ``stop="max_steps"``, ``valid_every=None``, ``average_decay=0``, ``schedule="cosine"``
    (``benchmarks/estimate_mi_speed.py`` runs both).

    Args:
        x: ``(N, D_x)`` (or ``(N,)``; or ``(N, C, H, W)`` images) samples of X; tensor or array.
        z: ``(N, D_z)`` (or ``(N,)``) samples of Z, paired with ``x``.
        bound: one of ``"mine"``, ``"mine_biased"``, ``"nwj"``, ``"infonce"``, ``"smile"``, ``"js"``.
        critic: a statistics network (default: :class:`ConcatCritic` with two 128-wide SiLU layers;
            :class:`SeparableCritic` for ``bound="infonce"``; :class:`ConvCritic` for images).
        steps: the most optimizer steps. Default: :func:`default_steps` of ``N`` and of the best
            validation estimate so far (1 500 at 10 000 pairs below 1 nat, up to 4× that at 4 nats);
            fixed at ``default_steps(N)`` with ``schedule="cosine"``.
        batch_size: pairs per step; at most the training split's size.
        lr: Adam's learning rate.
        eval_fraction: fraction of pairs held out for the reported value, in ``(0, 1)``.
        valid_fraction: fraction of the remaining pairs used to validate checkpoints, in ``[0, 1)``;
            0 disables validation (and early stopping; then ``stop`` must be ``"max_steps"``).
        early_stopping: keep the critic with the best validation value instead of the last one.
        stop: ``"plateau"`` (stop when the validation bound stops rising) or ``"max_steps"``.
        patience: validation checks without a gain of more than 0.001 nats before a plateau is declared.
        valid_every: steps between validation checks; ``None`` for 20 checks over ``steps``.
        average_decay: decay of the weight average in ``[0, 1)``; 0 validates and keeps the raw weights.
        schedule: ``"constant"`` lr, or ``"cosine"`` decay to ``lr / 10`` over ``steps``.
        preprocess: ``"rank_gauss"``, ``"standardize"`` or ``"none"``.
        ema_decay: decay of MINE's moving average of the partition term (``bound="mine"``).
        seed: seed for the split, the critic's initialization and the batches.
        device: where to train (default: the device of ``x`` when it is a tensor, else CPU).
        progress: show a progress bar.

    Returns:
        :class:`MIEstimate` with the value, its standard error and 95 % interval, the steps taken and
        why training stopped, the history and the trained estimator.

    Raises:
        ValueError: mismatched sample counts, NaN/Inf, too few samples for one batch, unknown names.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(4000, 1, generator=g)
        >>> z = 0.8 * x + 0.6 * torch.randn(4000, 1, generator=g)   # I = -0.5 log(1 - 0.64) ≈ 0.51
        >>> result = estimate_mi(x, z, steps=300, seed=0)
        >>> abs(result.value - 0.511) < 0.1, result.steps_taken <= 300, result.stop_reason in ("plateau", "max_steps")
        (True, True, True)
    """
    start_time = time.perf_counter()
    _check_names(bound, preprocess, stop, schedule)
    _check_numbers(eval_fraction, valid_fraction, stop, batch_size, lr, patience, steps, valid_every, average_decay)
    device = torch.device(device if device is not None else x.device if isinstance(x, Tensor) else "cpu")
    x, z = _as_samples(x, z)
    rng = torch.Generator().manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, (1,))))
    split = _split(x.shape[0], eval_fraction, valid_fraction, batch_size, rng)
    n, fixed_cap = x.shape[0], steps is not None or schedule == "cosine"
    steps = steps if steps is not None else default_steps(n)

    x_tf, z_tf = MarginalTransform(preprocess if x.ndim == 2 else "none"), MarginalTransform(preprocess)
    x_train, z_train = x_tf.fit_transform(x[split.train]).to(device), z_tf.fit_transform(z[split.train]).to(device)
    validate = _validator(x_tf.transform(x[split.valid]), z_tf.transform(z[split.valid]), device, rng)
    if critic is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=rng)))
            critic = _default_critic(x, z, bound)
    estimator = MINE(critic, bound=bound, ema_decay=ema_decay).to(device).train()
    run = train_estimator(
        estimator,
        x_train,
        z_train,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        validate=validate,
        every=valid_every if valid_every is not None else max(1, steps // 20),
        stopper=PlateauStopper(patience, _PLATEAU_TOLERANCE) if stop == "plateau" else None,
        keep_best=early_stopping,
        average_decay=average_decay,
        schedule=schedule,
        step_cap=None if fixed_cap else lambda mi: default_steps(n, mi),
        rng=rng,
        # MINE's shuffles on the device, from a seed drawn from `rng`: fresh for seed=None, fixed by a seed.
        device_rng=rng if device.type == "cpu" else seeded_generator(_draw_seed(rng), device=device),
        progress=progress,
    )
    estimator.load_state_dict(run.state)
    estimator.eval()

    n_eval = split.eval.numel()
    x_eval, z_eval = x_tf.transform(x[split.eval]).to(device), z_tf.transform(z[split.eval]).to(device)
    pairs = _eval_partners(n_eval, run.best_value)
    value, stderr = heldout_estimate(estimator, x_eval, z_eval, marginal_pairs=pairs, rng=rng)
    return MIEstimate(
        value=value,
        stderr=stderr,
        ci=(value - _Z95 * stderr, value + _Z95 * stderr),
        bound=bound,
        history=run.history,
        estimator=estimator,
        transform=(x_tf, z_tf),
        n_train=split.train.numel(),
        n_valid=split.n_valid,
        n_eval=n_eval,
        best_step=run.best_step,
        steps_taken=run.steps_taken,
        stop_reason=run.stop_reason,
        seconds=time.perf_counter() - start_time,
    )


def _eval_partners(n_eval: int, mi: float) -> int:
    """Product-of-marginals partners per held-out row: 20, times the validation estimate in nats up to 10.

    At a large MI the held-out DV value hangs on the few partners with a large ``e^T`` (its partition
    term is heavy-tailed), and a draw with one of them falls far below the rest: 25 + 25 dimensions at
    3.6 nats, 2 000 held-out rows, spread 0.03 nats over partner draws with 20 partners, 0.01 with 100.
    """
    growth = min(10.0, max(1.0, mi)) if math.isfinite(mi) else 1.0
    return max(1, min(int(20 * growth), _EVAL_MARGINAL_ROWS // n_eval))


def _check_names(bound: str, preprocess: str, stop: str, schedule: str) -> None:
    check_choice("bound", bound, BOUNDS)
    check_choice("preprocess", preprocess, ("rank_gauss", "standardize", "none"))
    check_choice("stop", stop, STOPS)
    check_choice("schedule", schedule, SCHEDULES)


def _check_numbers(
    eval_fraction: float,
    valid_fraction: float,
    stop: str,
    batch_size: int,
    lr: float,
    patience: int,
    steps: int | None,
    valid_every: int | None,
    average_decay: float,
) -> None:
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"`eval_fraction` must be in (0, 1), got {eval_fraction}")
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"`valid_fraction` must be in [0, 1), got {valid_fraction}")
    if stop == "plateau" and valid_fraction == 0:
        raise ValueError("`stop`='plateau' needs validation pairs; pass valid_fraction > 0 or stop='max_steps'")
    for name, value in (("batch_size", batch_size), ("lr", lr), ("patience", patience)):
        check_positive(name, value)
    for name, optional in (("steps", steps), ("valid_every", valid_every)):
        if optional is not None:
            check_positive(name, optional)
    check_unit_interval("average_decay", average_decay)


def _as_samples(x: Any, z: Any) -> tuple[Tensor, Tensor]:
    """``(N, D)`` (or ``(N, C, H, W)`` for ``x``) tensors of the default dtype, checked and paired."""
    x = as_tensor("x", x, torch.get_default_dtype())
    z = as_tensor("z", z, torch.get_default_dtype())
    x = x.unsqueeze(1) if x.ndim == 1 else x
    z = z.unsqueeze(1) if z.ndim == 1 else z
    if z.ndim != 2:
        raise ValueError(f"`z` must be (N,) or (N, D), got shape {tuple(z.shape)}; flatten it first")
    if x.ndim not in (2, 4):
        raise ValueError(
            f"`x` must be (N,), (N, D) or (N, C, H, W) images, got shape {tuple(x.shape)}; flatten it first"
        )
    check_paired(x, z)
    return x, z


@dataclass
class _Split:
    train: Tensor
    valid: Tensor  # at most _VALID_ROWS of the n_valid validation pairs
    eval: Tensor
    n_valid: int


def _split(n: int, eval_fraction: float, valid_fraction: float, batch_size: int, rng: torch.Generator) -> _Split:
    """Random train / validation / held-out indices; the held-out pairs neither train nor select the critic."""
    n_eval = max(2, int(round(n * eval_fraction)))
    n_valid = int(round((n - n_eval) * valid_fraction))
    n_valid = max(2, n_valid) if valid_fraction > 0 else 0
    n_train = n - n_eval - n_valid
    if n_train < batch_size:
        raise ValueError(
            f"`batch_size`={batch_size} exceeds the {n_train} training pairs (N={n}, eval_fraction="
            f"{eval_fraction}, valid_fraction={valid_fraction}); pass a smaller batch_size or more samples"
        )
    order = torch.randperm(n, generator=rng)
    valid = order[n_train : n_train + n_valid]
    # A validation check costs the same whatever N: a fixed subsample.
    return _Split(order[:n_train], valid[:_VALID_ROWS], order[n_train + n_valid :], n_valid)


def _draw_seed(rng: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=rng))


def _validator(x: Tensor, z: Tensor, device: torch.device, rng: torch.Generator) -> Callable[[MINE], float] | None:
    """Scores an estimator on ``(x, z)`` with the same random partners at every check, so that successive
    checkpoints are compared on the same pairs: their differences are far less noisy than their levels."""
    if x.shape[0] == 0:
        return None
    x, z = x.to(device), z.to(device)
    pairs = max(1, min(5, _VALID_MARGINAL_ROWS // x.shape[0]))
    seed = int(torch.randint(0, 2**62, (1,), generator=rng))

    def validate(estimator: MINE) -> float:
        partners = torch.Generator().manual_seed(seed)
        return heldout_estimate(estimator, x, z, marginal_pairs=pairs, rng=partners)[0]

    return validate
