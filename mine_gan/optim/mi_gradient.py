r"""The generator step of MINE's adaptive gradient clipping (Belghazi et al., ICML 2018, eq. 21), public.

A model trained on a main loss (a GAN generator's adversarial loss) plus an MI term has, for the same
parameters, two gradients: ``g_u`` from the main loss and ``g_m`` from the MI term (the gradient of minus
the MI estimate, so that descending it ascends the MI). Eq. 21 rescales the MI gradient so that it can
never outweigh the main one,

.. math:: g_a = \min(\|g_u\|, \|g_m\|)\,\frac{g_m}{\|g_m\|}, \qquad \theta \leftarrow \mathrm{step}(g_u + \beta g_a),

norms over all parameters together. ``β`` (``mi_weight``) therefore scales the *clipped* MI gradient:
the MI term's contribution to the step has norm at most ``β‖g_u‖``.

Under data parallelism the two gradients are averaged across processes **before** the clip, so that the
clip compares the global batch's gradients (clipping per process, then averaging, is a different
operator). Pass ``strategy=trainer.strategy`` to get this; it is one all-reduce for both gradients.

In a LightningModule with manual optimization, :meth:`MIGradientStep.backward` is the whole step: it takes
both gradients (DDP's reducer kept out), averages, clips and installs them; :func:`averaged_backward` is the
same for a loss without MI term (a discriminator's).

**Mixed precision** (``precision="16-mixed"``): ``manual_backward`` multiplies each loss by the GradScaler's
loss scale, which may change after every optimizer step. :func:`local_gradients` divides it out, so the
norms, the averaging and eq. 21 see true gradients (the critic's ``g_m`` and the generator's ``g_u`` may have
been taken under different scales), and :func:`install_gradients` multiplies the current scale back in for
the scaler's ``step``, which divides it out again and skips a step with non-finite gradients. The scale is a
power of two, so both are exact.

This module is what :class:`~mine_gan.models.InfoGAN`, :class:`~mine_gan.models.BiGAN` and
:class:`~mine_gan.MIRegularizer` (``clip="adaptive"``) use; a user's own GAN can use it the same way (see
:class:`MIGradientStep`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from mine_gan.functional import adaptive_clip, global_norm
from mine_gan.recipe import CLIPS, Clip, check_clip, check_mi_weight

__all__ = [
    "CLIPS",
    "Clip",
    "MIGradientStep",
    "average_gradients",
    "averaged_backward",
    "clip_mi_gradients",
    "install_gradients",
    "local_gradients",
    "loss_scale",
]


def average_gradients(grads: Sequence[Tensor], strategy: Any = None) -> list[Tensor]:
    """Mean of each gradient over the processes of ``strategy`` (one all-reduce of the flattened list).

    Args:
        grads: per-parameter gradients, the same shapes on every process.
        strategy: a Lightning strategy (``trainer.strategy``), or anything with ``world_size`` and
            ``reduce(tensor, reduce_op="mean")``; ``None`` or one process returns ``grads`` unchanged.

    Example:
        >>> import torch
        >>> average_gradients([torch.ones(2)], strategy=None)
        [tensor([1., 1.])]
    """
    grads = list(grads)
    if strategy is None or getattr(strategy, "world_size", 1) <= 1 or not grads:
        return grads
    flat = strategy.reduce(torch.cat([g.reshape(-1) for g in grads]), reduce_op="mean")
    return [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]), grads, strict=True)]


def clip_mi_gradients(
    main_grads: Sequence[Tensor],
    mi_grads: Sequence[Tensor | None],
    clip: Clip | None = "adaptive",
    strategy: Any = None,
    stacked: bool = False,
) -> tuple[list[Tensor], list[Tensor | None], dict[str, Tensor]]:
    r"""Average ``g_u`` and ``g_m`` across processes, then clip ``g_m`` against ``g_u`` (eq. 21).

    .. math:: g_a = \min(\|g_u\|, \|g_m\|)\, g_m / \|g_m\|

    Args:
        main_grads: ``g_u``, one gradient per parameter.
        mi_grads: ``g_m``, aligned with ``main_grads``; ``None`` for a parameter the MI term does not
            train (BiGAN's generator, when only the encoder ascends the MI). Norms are taken over the
            parameters with an MI gradient only.
        clip: ``"adaptive"`` for eq. 21, ``None`` to pass ``g_m`` through unclipped.
        strategy: see :func:`average_gradients`.
        stacked: the parameters stack ``S`` seeds' models along dim 0 (:class:`~mine_gan.nets.SeedStack`):
            each seed is clipped by its own norms, and the norms are ``(S,)``.

    Returns:
        ``(g_u, g_a, norms)``: the averaged main gradients, the clipped MI gradients (``None`` where
        ``mi_grads`` had ``None``), and ``norms`` with ``grad_norm_adv`` (``‖g_u‖``), ``grad_norm_mi``
        (``‖g_m‖``) and ``grad_norm_mi_clipped`` (``‖g_a‖``), over the MI-trained parameters.

    Example:
        >>> import torch
        >>> g_u, g_a, norms = clip_mi_gradients([torch.tensor([0.0, 1.0])], [torch.tensor([3.0, 4.0])])
        >>> g_a, norms["grad_norm_mi_clipped"]
        ([tensor([0.6000, 0.8000])], tensor(1.))
    """
    check_clip(clip)
    if len(main_grads) != len(mi_grads):
        raise ValueError(
            f"`main_grads` and `mi_grads` must align parameter by parameter, got {len(main_grads)} and "
            f"{len(mi_grads)} tensors"
        )
    selected = [i for i, g in enumerate(mi_grads) if g is not None]
    averaged = average_gradients([*main_grads, *(mi_grads[i] for i in selected)], strategy)
    g_u = averaged[: len(main_grads)]
    g_m = averaged[len(main_grads) :]
    g_u_selected = [g_u[i] for i in selected]
    g_a_selected = adaptive_clip(g_u_selected, g_m, stacked) if clip == "adaptive" else g_m
    g_a: list[Tensor | None] = [None] * len(main_grads)
    for i, g in zip(selected, g_a_selected, strict=True):
        g_a[i] = g
    if stacked and not selected and main_grads:  # no MI term: zero norms, one per seed (S from g_u's stacking)
        zeros = main_grads[0].new_zeros(main_grads[0].shape[0])
        return g_u, g_a, dict.fromkeys(("grad_norm_adv", "grad_norm_mi", "grad_norm_mi_clipped"), zeros)
    norms = {
        "grad_norm_adv": global_norm(g_u_selected, stacked).detach(),
        "grad_norm_mi": global_norm(g_m, stacked).detach(),
        "grad_norm_mi_clipped": global_norm(g_a_selected, stacked).detach(),
    }
    return g_u, g_a, norms


def loss_scale(module: Any, like: Tensor) -> Tensor | None:
    """The factor ``module.manual_backward`` multiplies a loss by now: the loss scale of the precision plugin's
    GradScaler (``precision="16-mixed"``), a 0-d tensor on ``like``'s device (read without a host sync);
    ``None`` when losses are not scaled (32-bit, ``bf16-mixed``, a module without a Trainer's plugin).

    Example:
        >>> from types import SimpleNamespace
        >>> loss_scale(SimpleNamespace(trainer=SimpleNamespace()), torch.ones(())) is None
        True
    """
    scaler = getattr(getattr(module.trainer, "precision_plugin", None), "scaler", None)
    if scaler is None or not scaler.is_enabled():
        return None
    return scaler.scale(torch.ones((), device=like.device))


def local_gradients(module: Any, loss: Tensor, params: Sequence[Tensor], retain_graph: bool = False) -> list[Tensor]:
    """This process's gradient of ``loss`` w.r.t. ``params`` (zeros where unused), DDP's reducer kept out.

    ``module`` is a LightningModule with manual optimization: the backward goes through its
    ``manual_backward`` (precision plugins, scalers) under the strategy's ``block_backward_sync``, so
    that the gradients are averaged once, by :func:`average_gradients` / :class:`MIGradientStep`.
    ``params``' ``.grad`` are reset first. The gradients returned are true ones: a GradScaler's loss scale
    (:func:`loss_scale`) is divided out.
    """
    for p in params:
        p.grad = None
    scale = loss_scale(module, loss)
    block = getattr(module.trainer.strategy, "block_backward_sync", contextlib.nullcontext)  # DDP-like only
    with block():
        module.manual_backward(loss, retain_graph=retain_graph)
    grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
    return grads if scale is None else [g / scale for g in grads]


def install_gradients(params: Sequence[Tensor], grads: Sequence[Tensor], scale: Tensor | float | None = None) -> None:
    """Set ``p.grad = g`` for each parameter, ready for ``optimizer.step()``.

    Args:
        params: the parameters.
        grads: their true gradients, aligned with ``params``.
        scale: the loss scale the optimizer's step divides ``.grad`` by (:func:`loss_scale`: under
            ``16-mixed`` the GradScaler's ``step`` unscales first); ``p.grad = scale · g`` so that the step
            takes ``g``. ``None`` installs ``g`` as it is.
    """
    if len(params) != len(grads):
        raise ValueError(f"`params` and `grads` must align, got {len(params)} and {len(grads)} tensors")
    for p, g in zip(params, grads, strict=True):
        p.grad = g if scale is None else g * scale


def averaged_backward(module: Any, loss: Tensor, params: Iterable[Tensor]) -> None:
    """``module.manual_backward(loss)`` for ``params`` on any number of processes: their ``.grad`` becomes the
    gradient of ``loss`` averaged over ``module.trainer.strategy``'s processes, ready for ``optimizer.step()``.

    :func:`local_gradients`, :func:`average_gradients` and :func:`install_gradients` in one call, for a network
    trained without MI term (a discriminator, MINE's statistics network); with one, see
    :meth:`MIGradientStep.backward`.

    Args:
        module: a LightningModule with manual optimization, attached to a Trainer.
        loss: a scalar.
        params: the parameters the optimizer steps; their ``.grad`` are replaced.
    """
    params = list(params)
    grads = average_gradients(local_gradients(module, loss, params), module.trainer.strategy)
    install_gradients(params, grads, loss_scale(module, loss))


class MIGradientStep:
    r"""Install ``g_u + β g_a`` (eq. 21) as the gradients of a set of parameters, for any training loop.

    .. math:: g = g_u + \beta\, \min(\|g_u\|, \|g_m\|)\, \frac{g_m}{\|g_m\|}

    ``mi_weight`` is ``β``: it scales the *clipped* MI gradient, so the MI term moves the parameters by at
    most ``β‖g_u‖`` (with ``clip=None``: by ``β‖g_m‖``, unclipped). Call it after computing the two
    gradients and before ``optimizer.step()``; under DDP pass the strategy so that both gradients are
    averaged across processes before the clip (and take them with :func:`local_gradients`, which keeps
    DDP's own reducer out, so they are not averaged twice).

    Args:
        mi_weight: ``β ≥ 0``.
        clip: ``"adaptive"`` (eq. 21) or ``None``.

    Example:
        A generator step of one's own GAN with MINE (``mine = MINE(critic)``, manual optimization):

        >>> import torch
        >>> from mine_gan import MINE, ConcatCritic
        >>> _ = torch.manual_seed(0)
        >>> generator = torch.nn.Linear(4, 2)
        >>> mine = MINE(ConcatCritic(2, 4, hidden_dims=(16,)), bound="js")
        >>> z = torch.randn(32, 4)
        >>> fake = generator(z)
        >>> params = list(generator.parameters())
        >>> g_u = torch.autograd.grad(fake.pow(2).mean(), params, retain_graph=True)  # the adversarial loss
        >>> g_m = torch.autograd.grad(mine.loss(fake, z, update_ema=False), params)    # minus the MI estimate
        >>> norms = MIGradientStep(mi_weight=1.0)(params, g_u, g_m)                   # sets p.grad
        >>> bool(norms["grad_norm_mi_clipped"] <= norms["grad_norm_adv"] + 1e-6)
        True
    """

    def __init__(self, mi_weight: float = 1.0, clip: Clip | None = "adaptive") -> None:
        check_mi_weight(mi_weight)
        check_clip(clip)
        self.mi_weight = float(mi_weight)
        self.clip = clip

    def __call__(
        self,
        params: Iterable[Tensor],
        main_grads: Sequence[Tensor],
        mi_grads: Sequence[Tensor | None] | None,
        strategy: Any = None,
        stacked: bool = False,
        scale: Tensor | float | None = None,
    ) -> dict[str, Tensor]:
        """Install ``g_u + β g_a`` in ``params``' ``.grad``; returns the norms of :func:`clip_mi_gradients`.

        Args:
            params: the parameters, aligned with the gradients.
            main_grads: ``g_u`` per parameter.
            mi_grads: ``g_m`` per parameter (``None`` entries: no MI gradient for that one); ``None``
                altogether for a step without MI term (``g_u`` alone, still averaged).
            strategy: a Lightning strategy to average across processes, or ``None``.
            stacked: the parameters stack several seeds' models along dim 0; see :func:`clip_mi_gradients`.
            scale: the loss scale the optimizer's step divides by; see :func:`install_gradients`.
        """
        params = list(params)
        if mi_grads is None:
            mi_grads = [None] * len(params)
        g_u, g_a, norms = clip_mi_gradients(main_grads, mi_grads, self.clip, strategy, stacked)
        install_gradients(
            params, [u if a is None else u + self.mi_weight * a for u, a in zip(g_u, g_a, strict=True)], scale
        )
        return norms

    def backward(
        self,
        module: Any,
        main_loss: Tensor,
        mi: Tensor | Sequence[Tensor | None] | None,
        params: Iterable[Tensor],
        stacked: bool = False,
    ) -> dict[str, Tensor]:
        r"""``module.manual_backward`` for a loss with an MI term: installs ``g_u + β g_a`` (eq. 21) in ``params``.

        .. math:: g_u = \frac{1}{P}\sum_{p=1}^{P} \nabla \ell^{(p)}_{\text{main}}, \quad
                  g_m = \frac{1}{P}\sum_{p=1}^{P} \nabla \ell^{(p)}_{\text{MI}}, \quad
                  g = g_u + \beta\, \min(\|g_u\|, \|g_m\|)\, \frac{g_m}{\|g_m\|}

        over the ``P`` processes of ``module.trainer.strategy``. Each process's gradients are taken through
        ``module.manual_backward`` with DDP's reducer kept out (:func:`local_gradients`), so they are averaged
        once, before the clip. Then call ``optimizer.step()``. A generator step of one's own GAN::

            g_loss = F.softplus(-self.discriminator(fake)).mean()
            self.mi_step.backward(self, g_loss, self.mine.loss(fake, z, update_ema=False), self.generator.parameters())
            opt_g.step()

        Args:
            module: a LightningModule with manual optimization, attached to a Trainer.
            main_loss: the scalar whose gradient is ``g_u`` (a generator's adversarial loss).
            mi: minus the MI estimate, the scalar whose gradient is ``g_m`` (:meth:`~mine_gan.MINE.loss`:
                descending it ascends the MI); or ``g_m`` already taken, one gradient per parameter (``None``
                for a parameter the MI term does not train), e.g. by the statistics network's own backward;
                or ``None`` for no MI term (``g_u`` alone, averaged).
            params: the parameters the optimizer steps; their ``.grad`` are replaced.
            stacked: the parameters stack several seeds' models; see :func:`clip_mi_gradients`.

        Returns:
            The norms of :func:`clip_mi_gradients`.
        """
        params = list(params)
        if isinstance(mi, Tensor):  # two backward passes through one graph (the generator's): keep it for the second
            g_u = local_gradients(module, main_loss, params, retain_graph=True)
            mi = local_gradients(module, mi, params)
        else:
            g_u = local_gradients(module, main_loss, params)
        return self(params, g_u, mi, module.trainer.strategy, stacked, scale=loss_scale(module, main_loss))
