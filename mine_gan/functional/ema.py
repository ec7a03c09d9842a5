"""MINE's bias-corrected gradient (Belghazi et al., ICML 2018, §3.2 and Algorithm 1).

The minibatch gradient of the Donsker–Varadhan bound,

.. math:: \\hat G = \\mathbb{E}_B[\\nabla T] - \\frac{\\mathbb{E}_{\\bar B}[\\nabla T\\, e^{T}]}{\\mathbb{E}_{\\bar B}[e^{T}]},

is biased because the denominator is itself a minibatch estimate. MINE replaces that denominator by an
exponential moving average ``m_t`` of the batch means of ``e^T``. We keep ``log m_t`` (the batch means
of ``e^T`` overflow long before their logarithms do):

.. math:: \\log m_t = \\operatorname{logaddexp}\\big(\\log\\gamma + \\log m_{t-1},\\;
          \\log(1-\\gamma) + \\operatorname{logmeanexp}_{\\bar B}(T)\\big)

with decay ``γ``. ``log m_t = -inf`` means "no batch seen yet": the first batch initializes the average
exactly (no zero-initialization bias).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mine_gan.functional.bounds import _check_scores, donsker_varadhan, logmeanexp

__all__ = ["ema_log_update", "mine_lower_bound"]


def ema_log_update(log_ema: Tensor, t_marginal: Tensor, ema_decay: float) -> Tensor:
    r"""One step of the log-space moving average of ``E_Q[e^T]`` (Belghazi et al. 2018, §3.2).

    .. math:: \log m_t = \operatorname{logaddexp}(\log\gamma + \log m_{t-1}, \log(1-\gamma) + \operatorname{logmeanexp}(T))

    Args:
        log_ema: scalar tensor ``log m_{t-1}``; ``-inf`` before the first update.
        t_marginal: scores on product-of-marginals samples, any shape. Detached here: the average is
            a constant in the surrogate's gradient.
        ema_decay: ``γ`` in ``[0, 1)``; 0 reproduces the plain biased minibatch estimate.

    Returns:
        Scalar tensor ``log m_t`` (no graph).

    Example:
        >>> import torch
        >>> first = ema_log_update(torch.tensor(float("-inf")), torch.zeros(4), ema_decay=0.9)
        >>> first
        tensor(0.)
        >>> ema_log_update(first, torch.full((4,), math.log(11.0)), ema_decay=0.9).exp()
        tensor(2.)
    """
    if not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"`ema_decay` must be in [0, 1), got {ema_decay}")
    _check_scores("t_marginal", t_marginal)
    batch = logmeanexp(t_marginal.detach())
    log_ema = log_ema.detach().to(batch.dtype)
    if ema_decay == 0.0:
        return batch
    moved = torch.logaddexp(log_ema + math.log(ema_decay), batch + math.log1p(-ema_decay))
    return torch.where(torch.isneginf(log_ema), batch, moved)


def mine_lower_bound(
    t_joint: Tensor, t_marginal: Tensor, log_ema: Tensor, ema_decay: float = 0.99
) -> tuple[Tensor, Tensor]:
    r"""Donsker–Varadhan value carrying MINE's bias-corrected gradient (Belghazi et al. 2018, §3.2).

    The returned tensor equals :func:`donsker_varadhan` in value, while its gradient is

    .. math:: \mathbb{E}_P[\nabla T] - \frac{\mathbb{E}_Q[\nabla T\, e^{T}]}{m_t}

    with ``m_t`` the moving average after this batch (Algorithm 1). Maximize it (or minimize its
    negative) to train the critic. Being pure, it takes and returns the average's state.

    Args:
        t_joint: scores on joint samples, any shape.
        t_marginal: scores on product-of-marginals samples, any shape.
        log_ema: scalar ``log m_{t-1}`` (``-inf`` before the first batch).
        ema_decay: moving-average decay ``γ`` in ``[0, 1)``.

    Returns:
        ``(bound, new_log_ema)``: the DV value with the corrected gradient, and ``log m_t``.

    Example:
        >>> import torch
        >>> value, state = mine_lower_bound(torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor(float("-inf")))
        >>> value, state
        (tensor(2.), tensor(0.))
    """
    new_log_ema = ema_log_update(log_ema, t_marginal, ema_decay)
    # exp(T - log m_t) has the gradient e^T ∇T / m_t; T - log m_t stays small, so no overflow.
    surrogate = t_joint.mean() - torch.exp(t_marginal - new_log_ema).mean()
    value = donsker_varadhan(t_joint, t_marginal)
    return value.detach() + (surrogate - surrogate.detach()), new_log_ema
