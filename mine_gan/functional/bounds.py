"""Variational lower bounds on mutual information, as pure functions of critic scores.

Every function takes the scores of a statistics network (critic) ``T`` on samples of the joint
distribution ``P = P_XZ`` and of the product of marginals ``Q = P_X ⊗ P_Z`` and returns a scalar
tensor in nats. All of them work in log space (``logsumexp``), so scores as large as ±1e4 give finite
values and finite gradients wherever the bound itself is finite.

The bounds that are functions of two means over a whole set (``"dv"``, ``"nwj"``, ``"smile"``) are
defined once here, together with their streaming form: :func:`bound_statistics` reduces a batch of
scores to :class:`BoundStatistics` (sums and log-sum-exps that merge exactly across batches and
processes), :func:`bound_from_statistics` finishes them into the bound, and :func:`bound_stderr`
into its delta-method standard error. The plain functions (:func:`donsker_varadhan`, :func:`nwj`,
:func:`smile`) finish the same way, so a new set bound is one entry in ``_SET_BOUNDS``.

References:
    Belghazi et al., "MINE: Mutual Information Neural Estimation", ICML 2018 (MINE).
    Nguyen, Wainwright & Jordan, "Estimating divergence functionals ...", IEEE Trans. IT 2010 (NWJ).
    van den Oord, Li & Vinyals, "Representation Learning with Contrastive Predictive Coding", 2018.
    Poole et al., "On Variational Bounds of Mutual Information", ICML 2019.
    Song & Ermon, "Understanding the Limitations of Variational Mutual Information Estimators", ICLR 2020.
    Nowozin, Cseke & Tomioka, "f-GAN", NeurIPS 2016 (Jensen–Shannon objective).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple, get_args

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = [
    "SET_BOUNDS",
    "BoundStatistics",
    "SetBound",
    "bound_from_statistics",
    "bound_statistics",
    "bound_stderr",
    "donsker_varadhan",
    "infonce",
    "jensen_shannon",
    "logmeanexp",
    "merge_bound_statistics",
    "nwj",
    "smile",
]

SetBound = Literal["dv", "nwj", "smile"]
SET_BOUNDS: tuple[str, ...] = get_args(SetBound)


def _check_tau(tau: float) -> None:
    if not tau > 0:
        raise ValueError(f"`tau` must be > 0, got {tau}")


def _check_scores(name: str, scores: Tensor, ndim: int | None = None) -> None:
    if not isinstance(scores, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(scores).__name__}")
    if ndim is not None and scores.ndim != ndim:
        raise ValueError(f"`{name}` must be {ndim}-D, got shape {tuple(scores.shape)}")
    if scores.numel() == 0:
        raise ValueError(f"`{name}` must not be empty, got shape {tuple(scores.shape)}")


def logmeanexp(x: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    r"""Numerically stable ``log(mean(exp(x)))``.

    .. math:: \operatorname{logmeanexp}(x) = \operatorname{logsumexp}(x) - \log n

    Args:
        x: any tensor.
        dim: dimension(s) to reduce; ``None`` reduces over all elements.

    Returns:
        ``x`` reduced over ``dim``.

    Example:
        >>> import torch
        >>> logmeanexp(torch.tensor([0.0, 0.0, 0.0]))
        tensor(0.)
        >>> logmeanexp(torch.tensor([1e4, 1e4]))
        tensor(10000.)
    """
    if dim is None:
        return torch.logsumexp(x.reshape(-1), dim=0) - math.log(x.numel())
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    count = math.prod(x.shape[d] for d in dims)
    return torch.logsumexp(x, dim=dims) - math.log(count)


def donsker_varadhan(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    r"""Donsker–Varadhan lower bound, the objective MINE maximizes (Belghazi et al. 2018, eq. 5 / Thm. 1).

    .. math:: I(X; Z) \geq \mathbb{E}_P[T] - \log \mathbb{E}_Q[e^{T}]

    Its plain gradient on a minibatch is biased; see :func:`mine_gan.functional.mine_lower_bound`
    for the paper's moving-average correction.

    Args:
        t_joint: scores on joint samples, any shape (averaged over all elements).
        t_marginal: scores on product-of-marginals samples, any shape.

    Returns:
        Scalar tensor, the bound in nats.

    Example:
        >>> import torch
        >>> donsker_varadhan(torch.tensor([2.0, 2.0]), torch.tensor([0.0, 0.0]))
        tensor(2.)
    """
    _check_scores("t_joint", t_joint)
    _check_scores("t_marginal", t_marginal)
    return _SET_BOUNDS["dv"].finish(t_joint.mean(), logmeanexp(t_marginal))


def nwj(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    r"""Nguyen–Wainwright–Jordan bound, "MINE-f" in Belghazi et al. 2018 (f-divergence form, §3.1).

    .. math:: I(X; Z) \geq \mathbb{E}_P[T] - \mathbb{E}_Q[e^{T - 1}]

    Unbiased minibatch gradients, but a variance that grows like ``e^{I}``. The partition term is
    computed as ``exp(logmeanexp(T) - 1)``: it is finite whenever the true value is representable;
    for marginal scores near +1e4 the bound really is ``-inf`` in floating point (``e^{9999}``).

    Args:
        t_joint: scores on joint samples, any shape.
        t_marginal: scores on product-of-marginals samples, any shape.

    Returns:
        Scalar tensor, the bound in nats.

    Example:
        >>> import torch
        >>> nwj(torch.tensor([1.0]), torch.tensor([1.0]))
        tensor(0.)
    """
    _check_scores("t_joint", t_joint)
    _check_scores("t_marginal", t_marginal)
    return _SET_BOUNDS["nwj"].finish(t_joint.mean(), logmeanexp(t_marginal))


def infonce(scores: Tensor) -> Tensor:
    r"""InfoNCE / contrastive predictive coding bound (van den Oord et al. 2018; Poole et al. 2019, eq. 12).

    ``scores[i, j] = T(x_i, z_j)``: the diagonal holds the joint pairs, each row's other entries serve
    as negatives. The bound never exceeds ``log N``.

    .. math:: I(X; Z) \geq \frac{1}{N} \sum_i \Big[ S_{ii} - \log \frac{1}{N} \sum_j e^{S_{ij}} \Big]

    Args:
        scores: ``(N, N)`` score matrix.

    Returns:
        Scalar tensor, the bound in nats, at most ``log N``.

    Example:
        >>> import torch
        >>> round(infonce(100.0 * torch.eye(4)).item(), 4) == round(math.log(4), 4)
        True
    """
    _check_scores("scores", scores, ndim=2)
    if scores.shape[0] != scores.shape[1]:
        raise ValueError(f"`scores` must be a square (N, N) matrix, got shape {tuple(scores.shape)}")
    # log_softmax subtracts the row maximum first, so each term is <= 0 in floating point too.
    return torch.log_softmax(scores, dim=1).diagonal().mean() + math.log(scores.shape[0])


def smile(t_joint: Tensor, t_marginal: Tensor, tau: float = 5.0) -> Tensor:
    r"""SMILE estimate (Song & Ermon 2020, eq. 17): DV with the partition term on clipped scores.

    .. math:: \mathbb{E}_P[T] - \log \mathbb{E}_Q[e^{\operatorname{clip}(T, -\tau, \tau)}]

    Clipping bounds the variance of the partition term at the price of a bias; ``tau → ∞`` recovers
    :func:`donsker_varadhan`. Song & Ermon train the critic with :func:`jensen_shannon` and report this.

    Args:
        t_joint: scores on joint samples, any shape.
        t_marginal: scores on product-of-marginals samples, any shape.
        tau: clipping threshold, ``> 0``.

    Returns:
        Scalar tensor in nats.

    Example:
        >>> import torch
        >>> smile(torch.tensor([3.0]), torch.tensor([100.0]), tau=5.0)
        tensor(-2.)
    """
    _check_tau(tau)
    _check_scores("t_joint", t_joint)
    _check_scores("t_marginal", t_marginal)
    bound = _SET_BOUNDS["smile"]
    return bound.finish(t_joint.mean(), logmeanexp(bound.marginal_map(t_marginal, tau)))


def jensen_shannon(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    r"""Jensen–Shannon f-divergence objective (f-GAN, Nowozin et al. 2016; Poole et al. 2019, eq. 15).

    .. math:: \mathbb{E}_P[-\operatorname{softplus}(-T)] - \mathbb{E}_Q[\operatorname{softplus}(T)]

    Not a bound on I(X; Z) itself, but a low-variance training signal whose optimum is
    ``T* = log p(x, z) / (p(x) p(z))``, so a critic trained on it gives a consistent DV estimate.

    Args:
        t_joint: scores on joint samples, any shape.
        t_marginal: scores on product-of-marginals samples, any shape.

    Returns:
        Scalar tensor.

    Example:
        >>> import torch
        >>> round(jensen_shannon(torch.zeros(3), torch.zeros(3)).item(), 4) == round(-2 * math.log(2), 4)
        True
    """
    _check_scores("t_joint", t_joint)
    _check_scores("t_marginal", t_marginal)
    return -F.softplus(-t_joint).mean() - F.softplus(t_marginal).mean()


class _SetBoundForm(NamedTuple):
    """One set bound: ``finish(mean_P T, log mean_Q e^{map(T)})``, and ``∂ finish / ∂ log-partition``."""

    finish: Callable[[Tensor, Tensor], Tensor]
    slope: Callable[[Tensor], Tensor]
    marginal_map: Callable[[Tensor, float], Tensor]


def _identity(t: Tensor, tau: float) -> Tensor:
    return t


def _clip(t: Tensor, tau: float) -> Tensor:
    return t.clamp(-tau, tau)


_SET_BOUNDS: dict[str, _SetBoundForm] = {
    # Donsker–Varadhan (Belghazi et al. 2018, eq. 5): E_P[T] - log E_Q[e^T].
    "dv": _SetBoundForm(lambda joint, log_z: joint - log_z, lambda log_z: -torch.ones_like(log_z), _identity),
    # NWJ / MINE-f (Nguyen et al. 2010; Belghazi et al. 2018, §3.1): E_P[T] - e^{log E_Q[e^T] - 1}.
    "nwj": _SetBoundForm(
        lambda joint, log_z: joint - torch.exp(log_z - 1.0), lambda log_z: -torch.exp(log_z - 1.0), _identity
    ),
    # SMILE (Song & Ermon 2020, eq. 17): DV on the marginal scores clipped to [-τ, τ].
    "smile": _SetBoundForm(lambda joint, log_z: joint - log_z, lambda log_z: -torch.ones_like(log_z), _clip),
}


class BoundStatistics(NamedTuple):
    r"""Sufficient statistics of a set bound: they merge exactly across batches and processes.

    With ``T̃ = map(T)`` the bound's marginal scores (clipped for SMILE, else unchanged):

    .. math:: \Big(\sum_P T,\; \sum_P T^2,\; n_P,\; \log\sum_Q e^{\tilde T},\; \log\sum_Q e^{2\tilde T},\; n_Q\Big)

    Counts are float tensors so that all six fields reduce with the same dtype; the log-sum-exps never
    form ``e^T`` itself, so nothing overflows. The second moments only feed :func:`bound_stderr`.
    """

    joint_sum: Tensor
    joint_sq_sum: Tensor
    joint_count: Tensor
    marginal_lse: Tensor
    marginal_lse2: Tensor
    marginal_count: Tensor


def bound_statistics(
    t_joint: Tensor, t_marginal: Tensor, bound: SetBound = "dv", smile_tau: float = 5.0
) -> BoundStatistics:
    r"""Reduce one batch of scores to the :class:`BoundStatistics` of ``bound``.

    .. math:: \hat I = \mathrm{finish}\Big(\tfrac{1}{n_P}\textstyle\sum_P T,\;
              \log\sum_Q e^{\tilde T} - \log n_Q\Big)

    Args:
        t_joint: scores on joint samples, any shape.
        t_marginal: scores on product-of-marginals samples, any shape.
        bound: ``"dv"`` (Donsker–Varadhan), ``"nwj"`` or ``"smile"``.
        smile_tau: SMILE's clipping threshold ``τ > 0``.

    Returns:
        :class:`BoundStatistics` in the dtype of the scores (pass float64 scores for long streams).

    Example:
        >>> import torch
        >>> t_joint, t_marginal = torch.tensor([1.0, 3.0, 2.0]), torch.tensor([0.0, 1.0, -1.0, 0.5])
        >>> whole = bound_statistics(t_joint, t_marginal)
        >>> parts = merge_bound_statistics(bound_statistics(t_joint[:1], t_marginal[:3]),
        ...                                bound_statistics(t_joint[1:], t_marginal[3:]))
        >>> torch.allclose(bound_from_statistics(parts), donsker_varadhan(t_joint, t_marginal))
        True
    """
    _check_set_bound(bound)
    _check_tau(smile_tau)
    _check_scores("t_joint", t_joint)
    _check_scores("t_marginal", t_marginal)
    t_joint, mapped = t_joint.reshape(-1), _SET_BOUNDS[bound].marginal_map(t_marginal.reshape(-1), smile_tau)
    return BoundStatistics(
        t_joint.sum(),
        t_joint.square().sum(),
        torch.tensor(float(t_joint.numel()), dtype=t_joint.dtype, device=t_joint.device),
        torch.logsumexp(mapped, dim=0),
        torch.logsumexp(2 * mapped, dim=0),
        torch.tensor(float(mapped.numel()), dtype=mapped.dtype, device=mapped.device),
    )


def merge_bound_statistics(*parts: BoundStatistics) -> BoundStatistics:
    """Statistics of the union of the sets the ``parts`` were computed on (sums and log-sum-exps).

    Example:
        >>> import torch
        >>> a = bound_statistics(torch.tensor([1.0]), torch.tensor([0.0]))
        >>> merge_bound_statistics(a, a).marginal_count
        tensor(2.)
    """
    if not parts:
        raise ValueError("`parts` must hold at least one BoundStatistics, got none")
    fields = list(zip(*parts, strict=True))
    lse = {BoundStatistics._fields.index(name) for name in ("marginal_lse", "marginal_lse2")}
    return BoundStatistics(
        *(torch.logsumexp(torch.stack(f), dim=0) if i in lse else torch.stack(f).sum(0) for i, f in enumerate(fields))
    )


def bound_from_statistics(stats: BoundStatistics, bound: SetBound = "dv") -> Tensor:
    r"""Finish :class:`BoundStatistics` into the value of ``bound`` in nats.

    .. math:: \hat I_{\mathrm{DV}} = \frac{\sum_P T}{n_P} - \Big(\log\sum_Q e^{\tilde T} - \log n_Q\Big)

    Args:
        stats: from :func:`bound_statistics` (merged over any number of batches).
        bound: the bound the statistics were computed for.

    Returns:
        Scalar tensor.

    Example:
        >>> import torch
        >>> bound_from_statistics(bound_statistics(torch.tensor([1.0]), torch.tensor([1.0]), "nwj"), "nwj")
        tensor(0.)
    """
    _check_set_bound(bound)
    return _SET_BOUNDS[bound].finish(stats.joint_sum / stats.joint_count, _log_partition(stats))


def bound_stderr(
    stats: BoundStatistics, bound: SetBound = "dv", marginal_samples: Tensor | float | None = None
) -> Tensor:
    r"""Delta-method standard error of :func:`bound_from_statistics`.

    With ``μ = mean_Q e^{T̃}`` and ``L = log μ``, the bound is ``finish(mean_P T, L)``, so

    .. math:: \operatorname{se}^2 = \frac{\operatorname{Var}_P T}{n_P}
              + \Big(\frac{\partial\,\mathrm{finish}}{\partial L}\Big)^2
                \frac{\operatorname{Var}_Q e^{\tilde T}}{\mu^2\, m}

    where ``Var e^{T̃} / μ² = mean e^{2T̃} / μ² − 1`` comes from the two log-sum-exps.

    Args:
        stats: from :func:`bound_statistics`.
        bound: the bound the statistics were computed for.
        marginal_samples: ``m``, the effective number of independent marginal samples; default
            ``n_Q``. Pass the number of distinct ``x`` when each ``x_i`` is paired with several ``z_j``:
            those pairs are not independent.

    Returns:
        Scalar tensor in nats.

    Example:
        >>> import torch
        >>> stats = bound_statistics(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 0.0]))
        >>> bound_stderr(stats)
        tensor(1.)
    """
    _check_set_bound(bound)
    n_joint, n_marginal = stats.joint_count, stats.marginal_count
    m = n_marginal if marginal_samples is None else marginal_samples
    joint_mean = stats.joint_sum / n_joint
    joint_var = ((stats.joint_sq_sum - n_joint * joint_mean.square()) / (n_joint - 1).clamp_min(1)).clamp_min(0)
    log_partition = _log_partition(stats)
    log_second = stats.marginal_lse2 - torch.log(n_marginal)
    relative_var = torch.expm1(log_second - 2 * log_partition).clamp_min(0) * n_marginal / (n_marginal - 1).clamp_min(1)
    slope = _SET_BOUNDS[bound].slope(log_partition)
    return torch.sqrt(joint_var / n_joint + slope.square() * relative_var / m)


def _log_partition(stats: BoundStatistics) -> Tensor:
    return stats.marginal_lse - torch.log(stats.marginal_count)


def _check_set_bound(bound: str) -> None:
    if bound not in _SET_BOUNDS:
        raise ValueError(f"`bound` must be one of {list(_SET_BOUNDS)}, got {bound!r}")
