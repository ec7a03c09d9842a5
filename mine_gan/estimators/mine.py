"""The MINE estimator module: a critic, a bound, and MINE's moving average as state."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal, get_args

import torch
from torch import Tensor, nn
from torch.func import vmap

from mine_gan import functional as MF
from mine_gan.estimators.critics import joint_and_marginal_scores, pairwise_scores
from mine_gan.nets.stack import SeedStack
from mine_gan.validation import check_choice, check_paired, check_positive, check_unit_interval

__all__ = ["MINE", "Bound", "Marginal"]

Bound = Literal["mine", "mine_biased", "nwj", "infonce", "smile", "js"]
Marginal = Literal["shuffle", "all_pairs"]
BOUNDS: tuple[str, ...] = get_args(Bound)
#: a random stream, or one per seed for seed-major batches of several seeds (``mine-gan fit --seeds``)
Streams = torch.Generator | Sequence[torch.Generator] | None
MARGINALS: tuple[str, ...] = get_args(Marginal)


REPORTED_SET_BOUND: dict[str, MF.SetBound] = {
    "mine": "dv",
    "mine_biased": "dv",
    "js": "dv",
    "nwj": "nwj",
    "smile": "smile",
}
"""The one bound → reported-bound table (the last column of :class:`MINE`'s table) for every bound
but InfoNCE, which needs the whole score matrix: what a training bound's estimate is, on a batch or
over a whole set (:func:`mine_gan.functional.bound_statistics`)."""


def reported_bound(bound: str, t_joint: Tensor, t_marginal: Tensor, smile_tau: float = 5.0) -> Tensor:
    """The estimate a bound reports from scores: its :data:`REPORTED_SET_BOUND` (NWJ, SMILE or DV)."""
    set_bound = REPORTED_SET_BOUND[bound]
    if set_bound == "nwj":
        return MF.nwj(t_joint, t_marginal)
    if set_bound == "smile":
        return MF.smile(t_joint, t_marginal, smile_tau)
    return MF.donsker_varadhan(t_joint, t_marginal)


def critic_objective(
    bound: str, t_joint: Tensor, t_marginal: Tensor, log_ema: Tensor, ema_decay: float, smile_tau: float = 5.0
) -> tuple[Tensor, Tensor, Tensor]:
    r"""What a statistics network ascends for ``bound`` (all but InfoNCE), from its scores.

    ``"mine"``: the DV bound with the moving-average-corrected gradient (Belghazi et al. 2018, §3.2);
    ``"mine_biased"``: DV; ``"nwj"``: NWJ (MINE-f); ``"js"`` and ``"smile"``: the Jensen–Shannon
    objective :math:`\mathbb{E}_P[-\mathrm{sp}(-T)] - \mathbb{E}_Q[\mathrm{sp}(T)]` (Song & Ermon 2020),
    while DV or SMILE is reported. One definition for every estimator of the package.

    Returns:
        ``(objective, reported, new_log_ema)``: the differentiable objective, the detached estimate to
        report, and the updated ``log m_t`` (``log_ema`` itself unless ``bound="mine"``).
    """
    if bound == "mine":
        value, new_log_ema = MF.mine_lower_bound(t_joint, t_marginal, log_ema, ema_decay)
        return value, value.detach(), new_log_ema
    if bound in ("mine_biased", "nwj"):
        value = reported_bound(bound, t_joint, t_marginal, smile_tau)
        return value, value.detach(), log_ema
    reported = reported_bound(bound, t_joint, t_marginal, smile_tau).detach()
    return MF.jensen_shannon(t_joint, t_marginal), reported, log_ema


class MINE(nn.Module):
    r"""Mutual Information Neural Estimator (Belghazi et al., ICML 2018) with a choice of bound.

    ``loss(x, z)`` is what an optimizer minimizes to train the critic; ``forward(x, z)`` is the estimate
    of ``I(X; Z)`` in nats. Both are differentiable in ``x`` and ``z`` too, so a model upstream can
    ascend (or descend) the estimate.

    =================  ====================================  ==========================================
    ``bound``          critic trained on                     ``forward`` reports
    =================  ====================================  ==========================================
    ``"mine"``         DV with the EMA-corrected gradient    Donsker–Varadhan value
    ``"mine_biased"``  DV, plain minibatch gradient          Donsker–Varadhan value
    ``"nwj"``          NWJ / MINE-f                          NWJ value
    ``"infonce"``      InfoNCE (all ``N²`` pairs)            InfoNCE value (≤ log N)
    ``"smile"``        Jensen–Shannon                        SMILE (DV, partition clipped at ``τ``)
    ``"js"``           Jensen–Shannon                        Donsker–Varadhan value
    =================  ====================================  ==========================================

    .. math:: \hat I = \mathbb{E}_P[T_\theta] - \log \mathbb{E}_Q[e^{T_\theta}]

    The moving average ``log m_t`` is the buffer ``log_ema``: it is in ``state_dict``, moves with
    ``.to()``, and is updated by ``loss`` in training mode only.

    Args:
        critic: any module with ``forward(x, z) -> (N,)``; ``pairwise(x, z) -> (N, N)`` is used when
            present (see :mod:`mine_gan.estimators.critics`).
        bound: the bound, see the table.
        ema_decay: decay ``γ`` of MINE's moving average (``"mine"`` only); the paper's rate α = 1 − γ.
        marginal: how product-of-marginals samples are formed: ``"shuffle"`` pairs each ``x_i`` with a
            randomly permuted ``z`` (N critic calls), ``"all_pairs"`` uses every ``(x_i, z_j), i ≠ j``
            (N² calls, lower variance). Defaults to ``"all_pairs"`` for InfoNCE, else ``"shuffle"``.
        smile_tau: clipping threshold ``τ`` of SMILE.
        shuffles: ``K``, the independent permutations of ``z`` per batch for the ``"shuffle"`` marginal: each
            ``x_i`` meets ``K`` partners, so ``E_Q[e^T]`` is averaged over ``K·N`` pairs instead of ``N``. The
            partition term of the DV bound (eq. 3 of Belghazi et al. 2018) is the noisy one; ``K`` divides its
            variance by up to ``K`` at ``K`` more critic evaluations per step (between ``"shuffle"``'s ``N`` and
            ``"all_pairs"``'s ``N²``).

    Example:
        >>> import torch
        >>> from mine_gan.estimators import ConcatCritic
        >>> _ = torch.manual_seed(0)
        >>> mine = MINE(ConcatCritic(1, 1, hidden_dims=(16,)), bound="mine")
        >>> x = torch.randn(128, 1); z = x + 0.5 * torch.randn(128, 1)
        >>> loss = mine.loss(x, z); loss.backward()
        >>> bool(torch.isfinite(mine.log_ema))
        True
    """

    log_ema: Tensor

    def __init__(
        self,
        critic: nn.Module,
        bound: Bound = "mine",
        ema_decay: float = 0.99,
        marginal: Marginal | None = None,
        smile_tau: float = 5.0,
        shuffles: int = 1,
    ) -> None:
        super().__init__()
        if not isinstance(critic, nn.Module):
            raise TypeError(f"`critic` must be an nn.Module with forward(x, z) -> (N,), got {type(critic).__name__}")
        check_choice("bound", bound, BOUNDS)
        check_unit_interval("ema_decay", ema_decay)
        check_positive("smile_tau", smile_tau)
        if marginal is None:
            marginal = "all_pairs" if bound == "infonce" else "shuffle"
        check_choice("marginal", marginal, MARGINALS)
        if bound == "infonce" and marginal != "all_pairs":
            raise ValueError("`marginal` must be 'all_pairs' for bound='infonce' (it needs the full score matrix)")
        if isinstance(shuffles, bool) or not isinstance(shuffles, int) or shuffles < 1:
            raise ValueError(f"`shuffles` must be an integer >= 1, got {shuffles!r}")
        if shuffles > 1 and marginal != "shuffle":
            raise ValueError(f"`shuffles`={shuffles} needs marginal='shuffle', got marginal={marginal!r}")
        self.shuffles = shuffles
        self.critic = critic
        self.bound: str = bound
        self.ema_decay = ema_decay
        self.marginal: str = marginal
        self.smile_tau = smile_tau
        self.register_buffer("log_ema", torch.tensor(float("-inf")))

    def extra_repr(self) -> str:
        shuffles = f", shuffles={self.shuffles}" if self.shuffles > 1 else ""
        return f"bound={self.bound!r}, marginal={self.marginal!r}, ema_decay={self.ema_decay}{shuffles}"

    def reset_ema(self) -> None:
        """Forget the moving average (the next training batch re-initializes it)."""
        self.log_ema.fill_(float("-inf"))

    def _prepare(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        check_paired(x, z, check_finite=False)
        param = next(self.critic.parameters(), None)
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        return x.to(dtype), z.to(dtype)

    @property
    def num_seeds(self) -> int:
        """Seeds whose critics this estimator stacks (a :class:`~mine_gan.nets.SeedStack` critic), else 1.

        With ``S`` seeds every batch is ``S`` seed-major blocks of ``B`` rows, and every score, bound and
        moving average is taken within each seed's block: nothing pairs one seed's rows with another's.
        """
        return self.critic.num_seeds if isinstance(self.critic, SeedStack) else 1

    def _seed_streams(self, rng: Streams) -> list[torch.Generator]:
        """One stream per seed for the shuffles of a stacked estimator (``rng`` must give them)."""
        if not isinstance(rng, (list, tuple)) or len(rng) != self.num_seeds:
            given = f"{len(rng)} streams" if isinstance(rng, (list, tuple)) else type(rng).__name__
            raise ValueError(
                f"this MINE stacks {self.num_seeds} seeds' critics: `rng` must be one torch.Generator per seed, "
                f"got {given}"
            )
        return list(rng)

    def _blocks(self, t: Tensor) -> Tensor:
        """``(S·B, ...)`` seed-major rows as ``(S, B, ...)``."""
        num = self.num_seeds
        if t.shape[0] % num:
            raise ValueError(f"{t.shape[0]} rows cannot be split into {num} seeds' blocks")
        return t.view(num, t.shape[0] // num, *t.shape[1:])

    def _pairwise(self, x: Tensor, z: Tensor) -> Tensor:
        """All pairs' scores within each seed's block: ``(N, N)`` for one seed, ``(S, B, B)`` for ``S``."""
        if self.num_seeds == 1:
            return pairwise_scores(self.critic, x, z)
        xs, zs = self._blocks(x), self._blocks(z)
        num, batch = xs.shape[:2]
        pairwise = getattr(self.critic, "pairwise", None)  # each seed's own, vmapped by the stack
        if callable(pairwise):
            return pairwise(x, z).view(num, batch, batch)
        # Seed s's B² pairs (x_i, z_j), row-major, in the order pairwise_scores gives one seed.
        pairs_x = xs.repeat_interleave(batch, dim=1).flatten(0, 1)
        pairs_z = zs.repeat(1, batch, *([1] * (z.ndim - 1))).flatten(0, 1)
        return self.critic(pairs_x, pairs_z).view(num, batch, batch)

    def scores(self, x: Tensor, z: Tensor, rng: Streams = None) -> tuple[Tensor, Tensor]:
        """Critic scores on joint and product-of-marginals samples, per ``self.marginal``.

        Args:
            x: ``(N, ...)`` samples of X.
            z: ``(N, ...)`` samples of Z, paired with ``x``.
            rng: random stream (``torch.Generator``) for the ``"shuffle"`` permutation (for reproducible or
                rank-synchronized shuffles). For a stacked estimator (:attr:`num_seeds` ``S > 1``, ``N = S·B``
                seed-major rows) a list of ``S`` generators: each seed's block is shuffled by its own stream.

        Returns:
            ``(t_joint, t_marginal)``: shapes ``(N,)`` and ``(K·N,)`` for ``"shuffle"`` (``K`` =
            :attr:`shuffles`, permutation-major), ``(N,)`` and
            ``(N·(N−1),)`` for ``"all_pairs"``; for ``S`` seeds, the same per seed with a leading ``S``
            (``(S, B)`` and ``(S, B)`` or ``(S, B·(B−1))``).
        """
        x, z = self._prepare(x, z)
        if self.marginal == "all_pairs":
            s = self._pairwise(x, z)
            off_diagonal = ~torch.eye(s.shape[-1], dtype=torch.bool, device=s.device)
            return s.diagonal(dim1=-2, dim2=-1), s[..., off_diagonal]
        if self.num_seeds > 1:
            if self.shuffles > 1:
                raise ValueError(f"`shuffles`={self.shuffles} is not supported for a stacked estimator of seeds")
            return self._seed_scores(x, z, self._seed_streams(rng))
        if isinstance(rng, (list, tuple)):
            raise ValueError(f"`rng` must be one torch.Generator for a single-seed MINE, got {len(rng)} streams")
        if self.shuffles == 1:
            perm = torch.randperm(x.shape[0], device=z.device, generator=rng)
            return joint_and_marginal_scores(self.critic, x, z, z[perm])
        n = x.shape[0]
        partners = [z[torch.randperm(n, device=z.device, generator=rng)] for _ in range(self.shuffles)]
        both = self.critic(torch.cat([x] * (self.shuffles + 1)), torch.cat([z, *partners]))
        return both[:n], both[n:]

    def _seed_scores(self, x: Tensor, z: Tensor, rngs: Sequence[torch.Generator]) -> tuple[Tensor, Tensor]:
        """Scores ``(S, B)`` each for seed-major rows of ``S`` seeds, each seed shuffled by its own stream.

        The critic sees ``[x_0; x_0; x_1; x_1; ...]`` against ``[z_0; z_0[π_0]; ...]``: seed ``s``'s joint
        and shuffled halves, in the order a single seed's :meth:`scores` uses, block by block.
        """
        xs, zs = self._blocks(x), self._blocks(z)
        num, batch = xs.shape[:2]
        perms = torch.stack([torch.randperm(batch, device=z.device, generator=g) for g in rngs])
        shuffled = torch.gather(zs, 1, perms.view(num, batch, *([1] * (z.ndim - 1))).expand_as(zs))
        if callable(getattr(self.critic, "joint_and_marginal", None)):  # each seed's own, vmapped by the stack
            t_joint, t_marginal = joint_and_marginal_scores(self.critic, x, z, shuffled.flatten(0, 1))
            return t_joint.view(num, batch), t_marginal.view(num, batch)
        both = self.critic(torch.cat([xs, xs], 1).flatten(0, 1), torch.cat([zs, shuffled], 1).flatten(0, 1))
        both = both.view(num, 2 * batch)
        return both[:, :batch], both[:, batch:]

    def _infonce(self, x: Tensor, z: Tensor) -> Tensor:
        """InfoNCE on all pairs: a scalar, or each seed's ``(S,)`` within its block."""
        x, z = self._prepare(x, z)
        scores = self._pairwise(x, z)
        return MF.infonce(scores) if self.num_seeds == 1 else vmap(MF.infonce)(scores)

    def loss(self, x: Tensor, z: Tensor, rng: Streams = None, update_ema: bool = True) -> Tensor:
        """Scalar to minimize to train the critic; its value is minus this batch's estimate.

        Args:
            x, z: paired samples, ``(N, ...)`` each.
            rng: random stream (``torch.Generator``) for the shuffle; for a stacked estimator of ``S`` seeds, one
                per seed (see :meth:`scores`): the loss is then ``(S,)``, each seed's bound with its own moving
                average (``log_ema`` of shape ``(S,)``).
            update_ema: update the moving average (training mode only). Pass ``False`` for a second
                pass over the same batch, e.g. a generator step after the critic step.
        """
        if self.bound == "infonce":
            return -self._infonce(x, z)
        t_joint, t_marginal = self.scores(x, z, rng)
        objective_fn = partial(critic_objective, self.bound, ema_decay=self.ema_decay, smile_tau=self.smile_tau)
        if self.num_seeds > 1:  # one bound and one moving average per seed
            objective_fn = vmap(objective_fn)
        objective, reported, new_log_ema = objective_fn(t_joint, t_marginal, self.log_ema)
        if self.bound == "mine" and self.training and update_ema:
            self.log_ema.copy_(new_log_ema)
        # The value is minus the reported estimate; the gradient is minus the objective's.
        return -(objective + (reported - objective).detach())

    def _report(self, t_joint: Tensor, t_marginal: Tensor) -> Tensor:
        return reported_bound(self.bound, t_joint, t_marginal, self.smile_tau)

    def forward(self, x: Tensor, z: Tensor, rng: Streams = None) -> Tensor:
        """Estimate of ``I(X; Z)`` in nats on this batch (differentiable; see the class table); ``(S,)`` for
        a stacked estimator of ``S`` seeds."""
        if self.bound == "infonce":
            return self._infonce(x, z)
        t_joint, t_marginal = self.scores(x, z, rng)
        return (vmap(self._report) if self.num_seeds > 1 else self._report)(t_joint, t_marginal)

    def estimate_from_scores(self, t_joint: Tensor, t_marginal: Tensor) -> Tensor:
        """The reported value from precomputed scores (``t_marginal`` as the off-diagonal pairs)."""
        return self._report(t_joint, t_marginal)
