r"""``MutualInformation``: a trained critic's bound on ``I(X; Z)`` over a whole evaluation set.

The Donsker–Varadhan bound (Belghazi et al., ICML 2018, eq. 5) over a set is

.. math:: \hat I = \frac{1}{N}\sum_{i} T(x_i, z_i) - \log \frac{1}{M}\sum_{j} e^{T(\tilde x_j, \tilde z_j)}

with ``(x_i, z_i)`` the joint samples and ``(\tilde x_j, \tilde z_j)`` samples of the product of marginals.
Both terms reduce exactly over batches and processes when kept as sufficient statistics: the joint sum
and count, and the marginal log-sum-exp and count (plus second moments for the standard error). Summing
counts, summing joint sums and taking the log-sum-exp of the per-process log-sum-exps gives the
statistics of the whole set, whatever the split; the log-sum-exp never forms ``e^T`` itself, so nothing
overflows. The statistics and how to finish them are each bound's own definition in
:mod:`mine_gan.functional.bounds` (:func:`~mine_gan.functional.bound_statistics`,
:func:`~mine_gan.functional.bound_from_statistics`); this metric only keeps and reduces them.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from mine_gan import functional as MF
from mine_gan.estimators import pairwise_scores
from mine_gan.functional import SET_BOUNDS, BoundStatistics, SetBound
from mine_gan.validation import check_choice, check_paired, check_positive

__all__ = ["MutualInformation", "SetBound"]


def _logsumexp_reduce(stacked: Tensor) -> Tensor:
    """Reduce per-process (or global and local) log-sum-exps stacked along dim 0."""
    return torch.logsumexp(stacked, dim=0)


class MutualInformation(Metric):
    r"""A trained critic's lower bound on ``I(X; Z)`` in nats over a whole evaluation set.

    .. math:: \hat I = \overline{T}_{P} - \log \overline{e^{T}}_{Q}

    Each :meth:`update` scores one batch of joint samples ``(x, z)`` and of product-of-marginals samples,
    and adds the bound's :class:`~mine_gan.functional.BoundStatistics` (joint sum and count, marginal
    log-sum-exp and count, and their second moments, all in float64). They reduce across processes by
    sums and log-sum-exps, so :meth:`compute` gives the value over the whole set whatever the number of
    processes and batches, provided the marginal samples themselves do not depend on the split — pass
    ``z_marginal`` (see :meth:`update`) for that.

    The critic is evaluated in eval mode without gradients and is *not* registered as a sub-module: it
    is someone else's trainable network (an estimator's, a callback's), so it must not show up in the
    parameters of a module that holds this metric. Inputs are moved to the critic's device.

    Args:
        critic: statistics network ``T(x, z) -> (N,)`` (e.g. ``MINE(...).critic``).
        bound: ``"dv"`` (Donsker–Varadhan, what MINE reports), ``"nwj"`` (MINE-f) or ``"smile"`` (DV with
            the marginal scores clipped to ``[-smile_tau, smile_tau]``). InfoNCE is not a whole-set bound
            (each row needs every ``z`` of the set); evaluate an InfoNCE critic with ``"dv"``.
        smile_tau: clipping threshold of ``"smile"``.
        kwargs: torchmetrics options (``sync_on_compute``, ``process_group``, ...).

    Example:
        >>> import torch
        >>> from mine_gan.estimators import ConcatCritic
        >>> _ = torch.manual_seed(0)
        >>> critic = ConcatCritic(1, 1, hidden_dims=(8,))
        >>> x = torch.randn(64, 1); z = x + 0.1 * torch.randn(64, 1)
        >>> whole, split = MutualInformation(critic), MutualInformation(critic)
        >>> whole.update(x, z, z_marginal=z.roll(1, 0))
        >>> for i in range(0, 64, 16):
        ...     split.update(x[i : i + 16], z[i : i + 16], z_marginal=z.roll(1, 0)[i : i + 16])
        >>> torch.allclose(whole.compute(), split.compute())
        True
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    joint_sum: Tensor
    joint_sq_sum: Tensor
    joint_count: Tensor
    marginal_lse: Tensor
    marginal_lse2: Tensor
    marginal_count: Tensor

    def __init__(self, critic: nn.Module, bound: SetBound = "dv", smile_tau: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(critic, nn.Module):
            raise TypeError(f"`critic` must be an nn.Module with forward(x, z) -> (N,), got {type(critic).__name__}")
        check_choice("bound", bound, SET_BOUNDS)
        check_positive("smile_tau", smile_tau)
        # Kept outside the module tree on purpose (see the class docstring).
        object.__setattr__(self, "_critic", critic)
        self.bound: str = bound
        self.smile_tau = smile_tau
        zero, minus_inf = torch.zeros((), dtype=torch.float64), torch.tensor(-math.inf, dtype=torch.float64)
        for name in BoundStatistics._fields:
            log_space = name.startswith("marginal_lse")
            self.add_state(
                name,
                (minus_inf if log_space else zero).clone(),
                dist_reduce_fx=_logsumexp_reduce if log_space else "sum",
            )

    @property
    def critic(self) -> nn.Module:
        return self._critic

    def update(self, x: Tensor, z: Tensor, z_marginal: Tensor | None = None) -> None:
        """Score one batch and add its statistics.

        Args:
            x: ``(B, ...)`` samples of X.
            z: ``(B, ...)`` samples of Z paired with ``x``.
            z_marginal: ``(K·B, ...)`` samples of Z independent of ``x`` (drawn from Z's prior, or ``z``
                of other rows of the set); row ``r`` is paired with ``x[r % B]``. With it, the value
                does not depend on how the set is split. Without it, every off-diagonal pair
                ``(x_i, z_j), i ≠ j`` of this batch is used (``B(B−1)`` pairs; the set of pairs then
                depends on the batching).
        """
        check_paired(x, z, names=("x", "z"), min_samples=1 if z_marginal is not None else 2)
        param = next(self.critic.parameters(), None)
        device = param.device if param is not None else x.device
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        x, z = x.to(device, dtype), z.to(device, dtype)
        n = x.shape[0]
        if z_marginal is not None:
            if not isinstance(z_marginal, Tensor) or z_marginal.ndim == 0 or z_marginal.shape[0] % n:
                shape = tuple(z_marginal.shape) if isinstance(z_marginal, Tensor) else type(z_marginal).__name__
                raise ValueError(f"`z_marginal` must have K·{n} rows (a multiple of the batch), got {shape}")
            if z_marginal.shape[1:] != z.shape[1:]:
                raise ValueError(
                    f"`z_marginal` rows must be shaped like `z` rows {tuple(z.shape[1:])}, "
                    f"got {tuple(z_marginal.shape[1:])}"
                )
            z_marginal = z_marginal.to(device, dtype)
        was_training = self.critic.training
        self.critic.eval()
        try:
            with torch.no_grad():
                if z_marginal is None:
                    scores = pairwise_scores(self.critic, x, z)
                    t_joint = scores.diagonal()
                    t_marginal = scores[~torch.eye(n, dtype=torch.bool, device=scores.device)]
                else:
                    repeats = z_marginal.shape[0] // n
                    t_joint = self.critic(x, z)
                    t_marginal = self.critic(x.repeat((repeats,) + (1,) * (x.ndim - 1)), z_marginal)
        finally:
            self.critic.train(was_training)
        batch = MF.bound_statistics(t_joint.double(), t_marginal.double(), self.bound, self.smile_tau)
        merged = MF.merge_bound_statistics(
            self._statistics(), BoundStatistics(*(t.to(self.joint_sum.device) for t in batch))
        )
        for name, value in zip(BoundStatistics._fields, merged, strict=True):
            setattr(self, name, value)

    def _statistics(self) -> BoundStatistics:
        return BoundStatistics(*(getattr(self, name) for name in BoundStatistics._fields))

    def compute(self) -> Tensor:
        """The bound over everything seen since the last reset, in nats (float64 scalar)."""
        return MF.bound_from_statistics(self._statistics(), self.bound)

    def stderr(self, marginal_samples: float | None = None) -> Tensor:
        """Delta-method standard error of :meth:`compute` (see :func:`mine_gan.functional.bound_stderr`).

        Args:
            marginal_samples: effective number of independent marginal samples; default the number of
                joint samples seen, since the marginal pairs reuse the same ``x`` rows.
        """
        stats = self._statistics()
        return MF.bound_stderr(stats, self.bound, stats.joint_count if marginal_samples is None else marginal_samples)
