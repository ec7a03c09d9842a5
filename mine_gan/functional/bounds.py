"""Variational lower bounds on mutual information, as pure functions of critic scores.

Every function takes the scores of a statistics network (critic) ``T`` on samples of the joint
distribution ``P = P_XZ`` and of the product of marginals ``Q = P_X ⊗ P_Z`` and returns a scalar
tensor in nats. All of them work in log space (``logsumexp``), so scores as large as ±1e4 give finite
values and finite gradients wherever the bound itself is finite.

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

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = [
    "donsker_varadhan",
    "infonce",
    "jensen_shannon",
    "logmeanexp",
    "nwj",
    "smile",
]


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
    return t_joint.mean() - logmeanexp(t_marginal)


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
    return t_joint.mean() - torch.exp(logmeanexp(t_marginal) - 1.0)


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
    if not tau > 0:
        raise ValueError(f"`tau` must be > 0, got {tau}")
    _check_scores("t_joint", t_joint)
    _check_scores("t_marginal", t_marginal)
    return t_joint.mean() - logmeanexp(t_marginal.clamp(-tau, tau))


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
