r"""``MutualInformationMonitor``: a MINE estimator trained alongside any Lightning run, one per named pair.

Where the pairs come from
    By default the module returns them from its step, under the key
    :data:`~mine_gan.contracts.OUTPUTS_KEY` (``"mi"``)::

        from mine_gan.contracts import OUTPUTS_KEY

        def training_step(self, batch, batch_idx):
            x, y = batch
            h = self.encoder(x)
            loss = ...
            return {"loss": loss, OUTPUTS_KEY: {"input_code": (x, h)}}   # validation_step: {OUTPUTS_KEY: {...}}

    and the monitor is ``MutualInformationMonitor(pairs=["input_code"])``. A module that cannot be changed
    is measured through a getter instead, ``pairs={"input_code": "my_project.pairs.input_code"}``: a
    callable (or its import path, so YAML can name it) ``(pl_module, batch, outputs) -> (a, b)``.

What it does at a training batch (every ``every_n_steps`` batches)
    Detaches ``(a, b)``, gathers them from all processes, and takes one optimizer step of its own
    estimator on the gathered batch (Belghazi et al., ICML 2018, Algorithm 1). It logs ``mi/<name>``, the
    estimate on that batch before the step. The model's graph, gradients and random streams are not
    touched.

At the end of a validation epoch (``heldout=True``)
    Logs ``mi/<name>/heldout``: the critic's Donsker–Varadhan value (NWJ or SMILE for those bounds)
    over every validation pair, through :class:`~mine_gan.metrics.MutualInformation`.

One estimator on any number of processes
    Every rank all-gathers the pairs (``trainer.strategy.all_gather``) and computes the same loss on the
    same global batch, with the shuffle drawn from a random stream seeded identically on every rank from
    ``(seed, update index)``. Identical weights + identical inputs give identical gradients, Adam states
    and EMA, so no gradient all-reduce is needed; weights start equal because rank 0's are broadcast
    once. We gather inputs rather than average per-rank gradients because the DV/MINE loss is not a mean
    over samples (``log`` of a mean over the marginal batch), so averaged per-rank gradients would not
    be the global batch's gradient, and the marginal has to be drawn from the global batch anyway. The
    cost is that every rank runs the critic on the global batch; the critic is small next to the model.
    Per-rank batches must have equal sizes (Lightning's ``DistributedSampler`` guarantees it).

Shared with the model
    The monitor is a :class:`~mine_gan.estimators.SharedEstimatorProvider`: a model finds the estimator
    with ``find_shared_estimator(trainer.callbacks, name)`` and uses it for its own MI term (e.g. the
    generator minimizing ``estimator.loss(G(ε, c), c, update_ema=False)``), while still returning the
    pair under ``OUTPUTS_KEY`` so the monitor trains the critic on it. The model must not step the critic's
    parameters (the monitor zeroes what its backward leaves in them before its own step) nor update the
    EMA, which would then differ across ranks. Sharing before the first batch needs a given ``critic``.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torch import Tensor, nn
from typing_extensions import override

from mine_gan.contracts import OUTPUTS_KEY, MultiSeedModule
from mine_gan.estimators import MINE, Bound, ConcatCritic, ConvCritic
from mine_gan.estimators.mine import BOUNDS, REPORTED_SET_BOUND
from mine_gan.metrics.mutual_information import MutualInformation
from mine_gan.validation import check_choice, check_positive, check_unit_interval

__all__ = ["OUTPUTS_KEY", "MutualInformationMonitor", "PairGetter"]

PairGetter = Callable[[pl.LightningModule, Any, Any], tuple[Tensor, Tensor]]
"""``(pl_module, batch, outputs) -> (a, b)``: how to take a pair from a batch when the step does not return it."""

_TRAIN, _VAL = 0, 1  # streams of the per-step shuffle seeds


@dataclass
class _Pair:
    """Everything the monitor keeps for one named pair."""

    name: str
    getter: PairGetter | None
    critic: nn.Module | None  # given by the user; None: built from the first batch's shapes
    estimator: MINE | None = None
    optimizer: torch.optim.Optimizer | None = None
    heldout: MutualInformation | None = None
    heldout_seen: bool = False
    synced: bool = False  # rank 0's initial weights broadcast
    pending: dict[str, Any] | None = None  # checkpoint state waiting for the estimator to exist
    history: list[float] = field(default_factory=list)
    heldout_history: list[float] = field(default_factory=list)


class MutualInformationMonitor(Callback):
    r"""Train a MINE estimator of ``I(A; B)`` for named tensor pairs of any LightningModule, and log it.

    See the module docstring for where pairs come from and how the estimator stays one estimator on
    many processes.

    Args:
        pairs: the pair names (taken from ``outputs[OUTPUTS_KEY][name]`` of the module's steps), or a mapping
            ``name -> getter`` where a getter is a :data:`PairGetter` or its import path (``None``: from
            the outputs).
        critic: statistics network ``T(a, b) -> (N,)``, or a mapping ``name -> critic``. One module given
            for several pairs is copied for each. Pairs without one get a :class:`ConcatCritic` (flat
            tensors, flattened) or :class:`ConvCritic` (``a`` images) built from the first batch with
            its own seeded random stream. Give one to share the estimator with the model before the
            first batch.
        hidden_dims: hidden widths of the default critics.
        bound: the estimator's bound (see :class:`~mine_gan.MINE`).
        lr_mi: Adam learning rate of each critic (``lr_mi``, as the GAN modules name MINE's critic's).
        ema_decay: decay of MINE's moving average (``bound="mine"``).
        every_n_steps: one critic step every ``k`` training batches (the first batch included). The
            default keeps the cost small next to a small model (``benchmarks/callback_overhead.py``: a
            default critic step costs about two steps of a 64-256-256-10 MLP classifier); use 1 for
            the tightest tracking.
        heldout: log ``mi/<name>/heldout`` at the end of each validation epoch.
        heldout_pairs: product-of-marginals partners per validation sample (drawn from the gathered
            validation batch, never the sample's own ``b``).
        seed: seed of the default critics' initialization and of every shuffle.

    Attributes:
        history: ``{name: [mi at each update]}`` on this process (identical on all).
        heldout_history: ``{name: [held-out value at each validation epoch]}``.

    Example:
        >>> from mine_gan.estimators import ConcatCritic
        >>> monitor = MutualInformationMonitor(["code"], critic=ConcatCritic(4, 2, hidden_dims=(32,)))
        >>> monitor.shared_estimator("code").bound
        'mine'
    """

    def __init__(
        self,
        pairs: str | Sequence[str] | Mapping[str, PairGetter | str | None],
        critic: nn.Module | Mapping[str, nn.Module] | None = None,
        hidden_dims: Sequence[int] = (256, 256),
        bound: Bound = "mine",
        lr_mi: float = 1e-3,
        ema_decay: float = 0.99,
        every_n_steps: int = 10,
        heldout: bool = True,
        heldout_pairs: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_choice("bound", bound, BOUNDS)
        check_positive("lr_mi", lr_mi)
        check_unit_interval("ema_decay", ema_decay)
        for arg, value in (("every_n_steps", every_n_steps), ("heldout_pairs", heldout_pairs)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{arg}` must be an integer >= 1, got {value!r}")
        getters = _getters(pairs)
        critics = _critics(critic, list(getters))
        self.bound: str = bound
        self.hidden_dims = tuple(hidden_dims)
        self.lr_mi = lr_mi
        self.ema_decay = ema_decay
        self.every_n_steps = every_n_steps
        self.heldout = heldout
        self.heldout_pairs = heldout_pairs
        self.seed = seed
        self._pairs = {name: _Pair(name, getter, critics.get(name)) for name, getter in getters.items()}
        for pair in self._pairs.values():
            if pair.critic is not None:
                pair.estimator = self._estimator(pair.critic)
        self._batches_seen = 0
        self._updates = 0

    # ---------------------------------------------------------------- public
    @property
    def names(self) -> list[str]:
        return list(self._pairs)

    @property
    def history(self) -> dict[str, list[float]]:
        return {name: pair.history for name, pair in self._pairs.items()}

    @property
    def heldout_history(self) -> dict[str, list[float]]:
        return {name: pair.heldout_history for name, pair in self._pairs.items()}

    def shared_estimator(self, name: str) -> MINE | None:
        """The estimator of pair ``name`` (``None`` if there is no such pair), per ``SharedEstimatorProvider``."""
        pair = self._pairs.get(name)
        if pair is None:
            return None
        if pair.estimator is None:
            raise RuntimeError(
                f"the estimator of pair {name!r} does not exist yet: without a `critic` it is built from the "
                f"first training batch; give MutualInformationMonitor a `critic` for {name!r} to share it"
            )
        return pair.estimator

    @property
    @override
    def state_key(self) -> str:
        return self._generate_state_key(pairs=tuple(self._pairs))

    # ---------------------------------------------------------------- hooks
    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if isinstance(pl_module, MultiSeedModule) and pl_module.num_seeds > 1:
            # One estimator over seed-major rows would pool the seeds' pairs (and log one value for all).
            raise ValueError(
                f"MutualInformationMonitor measures one model; this module trains {pl_module.num_seeds} seeds "
                "as one (`seeds`): run them separately"
            )
        for pair in self._pairs.values():
            if pair.estimator is not None:
                self._ready(pair, trainer, trainer.strategy.root_device)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._batches_seen += 1
        if (self._batches_seen - 1) % self.every_n_steps:
            return
        for index, pair in enumerate(self._pairs.values()):
            a, b = (self._gather(trainer, t) for t in self._take(pair, pl_module, batch, outputs, "training_step"))
            if pair.estimator is None:
                pair.estimator = self._estimator(self._default_critic(pair.name, a, b))
            self._ready(pair, trainer, a.device)
            a, b = self._features(pair, a), self._features(pair, b)
            value = self._step(pair, a, b, self._generator(a.device, _TRAIN, index, self._updates))
            pair.history.append(float(value))
            pl_module.log(f"{OUTPUTS_KEY}/{pair.name}", value, on_step=True, on_epoch=False, batch_size=a.shape[0])
        self._updates += 1

    @override
    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for pair in self._pairs.values():
            if pair.heldout is not None:
                pair.heldout.reset()
            pair.heldout_seen = False

    @override
    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not self.heldout or trainer.sanity_checking:
            return
        for index, pair in enumerate(self._pairs.values()):
            if pair.estimator is None or pair.heldout is None:  # nothing trained yet
                continue
            a, b = self._take(pair, pl_module, batch, outputs, "validation_step")
            a, b = self._features(pair, a), self._features(pair, b)
            b_all = self._gather(trainer, b)
            n, local = b_all.shape[0], a.shape[0]
            if n < 2:
                raise ValueError(f"pair {pair.name!r}: a held-out value needs >= 2 validation samples per batch")
            # Partners j != i drawn over the global batch, the same on every rank; each rank scores its rows.
            rng = self._generator(b.device, _VAL, index, 1_000_003 * trainer.current_epoch + batch_idx)
            offsets = torch.randint(1, n, (self.heldout_pairs, n), generator=rng, device=b.device)
            partners = (torch.arange(n, device=b.device) + offsets) % n
            rows = slice(trainer.global_rank * local, (trainer.global_rank + 1) * local)
            pair.heldout.update(a, b, z_marginal=b_all[partners[:, rows].reshape(-1)])
            pair.heldout_seen = True

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for pair in self._pairs.values():
            if pair.heldout is None or not pair.heldout_seen:
                continue
            value = pair.heldout.compute()  # reduced over ranks: the same on all
            pair.heldout_history.append(float(value))
            # Identical on every rank already; "max" over ranks keeps it exact and tells Lightning it is synced.
            pl_module.log(
                f"{OUTPUTS_KEY}/{pair.name}/heldout", value.float(), on_epoch=True, sync_dist=True, reduce_fx="max"
            )

    # ---------------------------------------------------------------- checkpoints
    @override
    def state_dict(self) -> dict[str, Any]:
        estimators = {}
        for name, pair in self._pairs.items():
            if pair.estimator is not None and pair.optimizer is not None:
                estimators[name] = {"estimator": pair.estimator.state_dict(), "optimizer": pair.optimizer.state_dict()}
            elif pair.pending is not None:
                estimators[name] = pair.pending
        return {"batches_seen": self._batches_seen, "updates": self._updates, "estimators": estimators}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        unknown = set(state_dict["estimators"]) - set(self._pairs)
        if unknown:
            raise ValueError(f"checkpoint has MI pairs {sorted(unknown)} this monitor does not know ({self.names})")
        self._batches_seen = state_dict["batches_seen"]
        self._updates = state_dict["updates"]
        for name, state in state_dict["estimators"].items():
            pair = self._pairs[name]
            pair.pending = state
            if pair.estimator is not None and pair.optimizer is not None:
                self._restore(pair)

    # ---------------------------------------------------------------- internals
    def _estimator(self, critic: nn.Module) -> MINE:
        return MINE(critic, bound=self.bound, ema_decay=self.ema_decay)  # type: ignore[arg-type]

    def _default_critic(self, name: str, a: Tensor, b: Tensor) -> nn.Module:
        if b.ndim == 4:
            raise ValueError(f"pair {name!r}: give a `critic` for image-valued b (shape {tuple(b.shape)})")
        # Its own random stream: building it must not shift the model's, and every rank builds the same.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if a.ndim == 4:
                return ConvCritic(a.shape[1], a.shape[2], b[0].numel(), hidden_dims=self.hidden_dims)
            return ConcatCritic(a[0].numel(), b[0].numel(), hidden_dims=self.hidden_dims)

    def _features(self, pair: _Pair, t: Tensor) -> Tensor:
        """Flat ``(N, D)`` features for the default critics; a user's critic gets tensors as they are."""
        if pair.critic is not None or isinstance(pair.estimator.critic, ConvCritic) and t.ndim == 4:
            return t
        return t.reshape(t.shape[0], -1)

    def _ready(self, pair: _Pair, trainer: pl.Trainer, device: torch.device) -> None:
        """Place the estimator, start all ranks from rank 0's weights, make its optimizer and metric."""
        if pair.optimizer is not None:
            return
        estimator = pair.estimator.to(device)
        if trainer.world_size > 1 and not pair.synced:
            state = {k: v.detach().cpu() for k, v in estimator.state_dict().items()}
            estimator.load_state_dict(trainer.strategy.broadcast(state, src=0))
        pair.synced = True
        pair.optimizer = torch.optim.Adam(estimator.parameters(), lr=self.lr_mi)
        bound = REPORTED_SET_BOUND.get(self.bound, "dv")  # an InfoNCE critic is scored with DV over the set
        pair.heldout = MutualInformation(estimator.critic, bound=bound).to(device)  # type: ignore[arg-type]
        if pair.pending is not None:
            self._restore(pair)

    def _restore(self, pair: _Pair) -> None:
        state, pair.pending = pair.pending, None
        pair.estimator.load_state_dict(state["estimator"])
        pair.optimizer.load_state_dict(state["optimizer"])

    def _take(
        self, pair: _Pair, pl_module: pl.LightningModule, batch: Any, outputs: Any, step: str
    ) -> tuple[Tensor, Tensor]:
        if pair.getter is not None:
            taken = pair.getter(pl_module, batch, outputs)
        else:
            named = outputs.get(OUTPUTS_KEY) if isinstance(outputs, Mapping) else None
            if not isinstance(named, Mapping) or pair.name not in named:
                raise ValueError(
                    f"MutualInformationMonitor: {type(pl_module).__name__}.{step} did not return the pair "
                    f"{pair.name!r}; return {{..., {OUTPUTS_KEY!r}: {{{pair.name!r}: (a, b)}}}} from it, or give a "
                    f"getter `pairs={{{pair.name!r}: 'module.function'}}`"
                    + (", or `heldout=False`" if step == "validation_step" else "")
                )
            taken = named[pair.name]
        if not (isinstance(taken, (tuple, list)) and len(taken) == 2 and all(isinstance(t, Tensor) for t in taken)):
            raise TypeError(f"pair {pair.name!r} must be a tuple of two tensors (a, b), got {type(taken).__name__}")
        a, b = taken
        if a.ndim == 0 or b.ndim == 0 or a.shape[0] != b.shape[0]:
            raise ValueError(
                f"pair {pair.name!r}: a and b must share the batch dimension, got {tuple(a.shape)}, {tuple(b.shape)}"
            )
        return a.detach(), b.detach()

    @staticmethod
    def _gather(trainer: pl.Trainer, t: Tensor) -> Tensor:
        """``(world·B, ...)``: the rows of every rank, rank by rank."""
        if trainer.world_size == 1:
            return t
        return trainer.strategy.all_gather(t).reshape(-1, *t.shape[1:])

    def _generator(self, device: torch.device, stream: int, index: int, step: int) -> torch.Generator:
        # The same seed on every rank, and a fresh, well-mixed one per (stream, pair, step).
        seed = np.random.SeedSequence([self.seed, stream, index, step]).generate_state(1, np.uint64)[0]
        return torch.Generator(device=device).manual_seed(int(seed) % 2**63)

    def _step(self, pair: _Pair, a: Tensor, b: Tensor, rng: torch.Generator) -> Tensor:
        estimator, optimizer = pair.estimator, pair.optimizer
        estimator.train()
        with torch.enable_grad():
            optimizer.zero_grad(set_to_none=True)  # also drops what a model's backward left in the critic
            loss = estimator.loss(a, b, rng=rng)
            loss.backward()
            optimizer.step()
        return -loss.detach()


def _getters(pairs: str | Sequence[str] | Mapping[str, PairGetter | str | None]) -> dict[str, PairGetter | None]:
    if isinstance(pairs, str):
        pairs = [pairs]
    if not isinstance(pairs, Mapping):
        names = list(pairs)
        if len(set(names)) != len(names):
            raise ValueError(f"`pairs` names must be unique, got {names}")
        pairs = dict.fromkeys(names)
    if not pairs:
        raise ValueError("`pairs` must name at least one pair")
    getters: dict[str, PairGetter | None] = {}
    for name, getter in pairs.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"`pairs` names must be non-empty strings without '/', got {name!r}")
        getters[name] = _import(name, getter) if isinstance(getter, str) else getter
        if getters[name] is not None and not callable(getters[name]):
            raise TypeError(
                f"`pairs[{name!r}]` must be a callable (pl_module, batch, outputs) -> (a, b), got {getter!r}"
            )
    return getters


def _import(name: str, path: str) -> PairGetter:
    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"`pairs[{name!r}]`: cannot import the getter {path!r} ({err})") from err


def _critics(critic: nn.Module | Mapping[str, nn.Module] | None, names: list[str]) -> dict[str, nn.Module]:
    if critic is None:
        return {}
    if isinstance(critic, nn.Module):
        return {name: critic if i == 0 else copy.deepcopy(critic) for i, name in enumerate(names)}
    if not isinstance(critic, Mapping):
        raise TypeError(f"`critic` must be an nn.Module or a mapping name -> nn.Module, got {type(critic).__name__}")
    unknown = set(critic) - set(names)
    if unknown:
        raise ValueError(f"`critic` has entries {sorted(unknown)} that are not pairs ({names})")
    for name, module in critic.items():
        if not isinstance(module, nn.Module):
            raise TypeError(f"`critic[{name!r}]` must be an nn.Module, got {type(module).__name__}")
    return dict(critic)
