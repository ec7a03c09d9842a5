"""Adversarial losses and the zero-centred gradient penalty that the GAN discriminators are trained with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from mine_gan.recipe import ADVERSARIAL_LOSSES, PENALTY_POINTS, AdversarialLoss, PenaltyPoints

__all__ = [
    "ADVERSARIAL_LOSSES",
    "PENALTY_POINTS",
    "AdversarialLoss",
    "PenaltyPoints",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
]


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: AdversarialLoss = "non_saturating") -> Tensor:
    r"""Discriminator loss on real and fake logits.

    ``"non_saturating"``: :math:`-\log\sigma(D(x)) - \log(1-\sigma(D(G(z))))` (Goodfellow et al. 2014);
    ``"hinge"``: :math:`\max(0, 1 - D(x)) + \max(0, 1 + D(G(z)))` (Lim & Ye 2017).

    Example:
        >>> import torch
        >>> discriminator_loss(torch.tensor([2.0]), torch.tensor([-2.0]), "hinge")
        tensor(0.)
    """
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, kind: AdversarialLoss = "non_saturating") -> Tensor:
    r"""Generator loss: :math:`-\log\sigma(D(G(z)))` (non-saturating) or :math:`-D(G(z))` (hinge).

    Example:
        >>> import torch
        >>> generator_loss(torch.tensor([0.0]))
        tensor(0.6931)
    """
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def gradient_penalty(
    critic: Callable[..., Tensor],
    x: Tensor | tuple[Tensor, ...],
    *context: Tensor,
    fake: Tensor | tuple[Tensor, ...] | None = None,
    points: PenaltyPoints = "real",
    rng: torch.Generator | None = None,
    mix: Tensor | None = None,
    reduction: Literal["mean", "none"] = "mean",
    scale: Tensor | float | None = None,
) -> Tensor:
    r"""Zero-centred gradient penalty :math:`\mathbb{E}\,\|\nabla_x f(\hat x)\|^2` (not yet weighted).

    ``points="real"``: :math:`\hat x = x`, the R1 penalty of Mescheder et al. (ICML 2018, eq. 9, without
    its :math:`\gamma/2`). ``points="interpolates"``: :math:`\hat x = u x + (1 - u) x_{fake}`,
    :math:`u \sim U(0, 1)` per sample, the points of Gulrajani et al. (2017) with the zero-centred target
    of Thanh-Tung et al. (ICLR 2019) instead of WGAN-GP's unit norm. The gradient is taken with
    ``create_graph=True``, so the penalty trains the critic. ``context`` (a statistics network's code) is
    passed to ``critic`` unchanged and not differentiated.

    A joint discriminator ``f(x, z)`` (BiGAN/ALI) takes the tuple ``x = (x, z)``: its input is the pair,
    so R1 extends to the gradient with respect to both parts, and interpolates mix the real pair
    ``(x, E(x))`` with the generated pair ``(G(z), z)`` with one ``u`` for both parts:

    .. math::
        \mathbb{E}\,\|\nabla_{(x, z)} f(\hat x, \hat z)\|^2
        = \mathbb{E}\left[\|\nabla_x f(\hat x, \hat z)\|^2 + \|\nabla_z f(\hat x, \hat z)\|^2\right],
        \qquad (\hat x, \hat z) = u\,(x, z) + (1 - u)\,(x_{fake}, z_{fake})

    Args:
        critic: ``f(*x, *context) -> (N,)`` scores.
        x: the real points differentiated, ``(N, ...)``, or a tuple of them (a joint input such as ``(x, z)``).
        context: further inputs of ``critic``, each ``(N, ...)``, not differentiated.
        fake: generated points of ``x``'s structure and shapes, needed for ``points="interpolates"``.
        points: where the gradient is taken.
        rng: random stream of the interpolation weights.
        mix: the interpolation weights ``u`` ``(N,)`` themselves (then ``rng`` is not used).
        reduction: ``"mean"`` over the batch, or ``"none"`` for the ``(N,)`` squared norms (a multi-seed
            batch averages them per seed).
        scale: a loss scale (``16-mixed``'s, :func:`mine_gan.optim.loss_scale`): the inner gradient is taken of
            ``scale · f`` and divided by ``scale``, so that it does not underflow in float16 under autocast
            (PyTorch's AMP recipe for gradient penalties). ``None``: unscaled.

    Returns:
        The batch mean of the squared gradient norms, a scalar (``(N,)`` with ``reduction="none"``).

    Example:
        >>> import torch
        >>> w = torch.tensor([3.0, 4.0])
        >>> gradient_penalty(lambda x: x @ w, torch.randn(8, 2))  # ||w||^2 at every point
        tensor(25.)
        >>> gradient_penalty(lambda x, z: x @ w + 12 * z[:, 0], (torch.randn(8, 2), torch.randn(8, 1)))
        tensor(169.)
    """
    if points not in PENALTY_POINTS:
        raise ValueError(f"`points` must be one of {PENALTY_POINTS}, got {points!r}")
    inputs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    if not inputs:
        raise ValueError("`x` must be a tensor or a non-empty tuple of tensors, got an empty tuple")
    n = inputs[0].shape[0]
    if points == "interpolates":
        fakes = tuple(fake) if isinstance(fake, (tuple, list)) else (fake,)
        if fake is None or [f.shape for f in fakes] != [t.shape for t in inputs]:
            raise ValueError(
                f"points='interpolates' needs `fake` of the real points' shapes {[tuple(t.shape) for t in inputs]}, "
                f"got {None if fake is None else [tuple(f.shape) for f in fakes]}"
            )
        if mix is None:
            mix = torch.rand(n, generator=rng, device=inputs[0].device, dtype=inputs[0].dtype)
        # One u per row for every part: a pair is interpolated as one point of the joint space.
        weights = [mix.view((n,) + (1,) * (t.ndim - 1)) for t in inputs]
        inputs = tuple(u * t.detach() + (1 - u) * f.detach() for u, t, f in zip(weights, inputs, fakes, strict=True))
    inputs = tuple(t.detach().requires_grad_(True) for t in inputs)
    scores = critic(*inputs, *context).sum()
    if scale is None:
        grads = torch.autograd.grad(scores, inputs, create_graph=True)
    else:
        grads = [g / scale for g in torch.autograd.grad(scores * scale, inputs, create_graph=True)]
    squared_norms = sum(g.flatten(1).pow(2).sum(dim=1) for g in grads)
    return squared_norms if reduction == "none" else squared_norms.mean()
