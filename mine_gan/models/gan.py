"""Pieces the GAN modules share: adversarial losses, latent codes, and the step that adds an MI term.

:class:`GANModule` holds what :class:`~mine_gan.models.InfoGAN` and :class:`~mine_gan.models.BiGAN` do alike:
optimizer steps with gradients averaged across processes, the generator (or encoder) step on
``g_u + β g_a`` with adaptive clipping (Belghazi et al., ICML 2018, eq. 21), checks of the data module's
shape, sampling, and the mode metrics logged on mixtures of Gaussians.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal, get_args

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer
from typing_extensions import override

from mine_gan.estimators import MINE, ConcatCritic, ConvCritic
from mine_gan.estimators.mine import Bound
from mine_gan.functional import adaptive_clip, global_norm
from mine_gan.validation import check_choice, check_positive, check_unit_interval

__all__ = [
    "ADVERSARIAL_LOSSES",
    "AdversarialLoss",
    "Clip",
    "GANModule",
    "LatentCode",
    "default_estimator",
    "discriminator_loss",
    "frozen",
    "generator_loss",
    "infer_x_shape",
]

AdversarialLoss = Literal["non_saturating", "hinge"]
ADVERSARIAL_LOSSES: tuple[str, ...] = get_args(AdversarialLoss)
Clip = Literal["adaptive"]
ContinuousCode = Literal["uniform", "gaussian"]


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
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


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    r"""Generator loss: :math:`-\log\sigma(D(G(z)))` (non-saturating) or :math:`-D(G(z))` (hinge).

    Example:
        >>> import torch
        >>> generator_loss(torch.tensor([0.0]))
        tensor(0.6931)
    """
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def infer_x_shape(generator: nn.Module, latent_dim: int) -> tuple[int, ...]:
    """Shape of one generated sample: ``generator.x_shape`` when it says, else from a forward pass."""
    shape = getattr(generator, "x_shape", None)
    if shape is not None:
        return tuple(shape)
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        out = generator(torch.zeros(2, latent_dim))
    generator.train(was_training)
    return tuple(out.shape[1:])


class LatentCode:
    r"""InfoGAN's structured code ``c``: one-hot categorical groups followed by continuous dimensions.

    ``c = [onehot(k_1), …, onehot(k_m), u]`` with ``u ~ U(-1, 1)^d`` or ``N(0, I_d)``. The code's entropy
    ``H(c)`` and the log-likelihood of an auxiliary ``Q(c | x)`` give InfoGAN's variational lower bound
    ``I(x; c) ≥ H(c) + E[log Q(c | x)]`` (Chen et al. 2016, Lemma 5.1); continuous codes use a unit-variance
    Gaussian ``Q`` whose mean is the code head's output (the reparametrization makes it differentiable in
    ``G``).

    Args:
        categorical_dims: number of categories of each one-hot group.
        continuous_dim: number of continuous dimensions.
        continuous: their distribution.

    Example:
        >>> code = LatentCode([3], 1, "uniform")
        >>> code.dim, tuple(code.sample(4).shape)
        (4, (4, 4))
    """

    def __init__(self, categorical_dims: Sequence[int], continuous_dim: int, continuous: str) -> None:
        self.categorical_dims = [int(k) for k in categorical_dims]
        self.continuous_dim, self.continuous = int(continuous_dim), continuous
        self.dim = sum(self.categorical_dims) + self.continuous_dim

    def sample(self, n: int, device: torch.device | None = None) -> Tensor:
        parts = [
            F.one_hot(torch.randint(k, (n,), device=device), k).to(torch.get_default_dtype())
            for k in self.categorical_dims
        ]
        if self.continuous_dim:
            shape = (n, self.continuous_dim)
            u = (
                torch.rand(shape, device=device) * 2 - 1
                if self.continuous == "uniform"
                else torch.randn(shape, device=device)
            )
            parts.append(u)
        return torch.cat(parts, dim=1) if parts else torch.zeros(n, 0, device=device)

    def entropy(self) -> float:
        """``H(c)`` in nats."""
        cont = math.log(2.0) if self.continuous == "uniform" else 0.5 * math.log(2 * math.pi * math.e)
        return sum(math.log(k) for k in self.categorical_dims) + self.continuous_dim * cont

    def log_likelihood(self, q_out: Tensor, code: Tensor) -> Tensor:
        """Mean ``log Q(c | x)`` over the batch, ``q_out`` being the code head's ``(N, dim)`` output."""
        total = q_out.new_zeros(())
        start = 0
        for k in self.categorical_dims:
            target = code[:, start : start + k].argmax(dim=1)
            total = total - F.cross_entropy(q_out[:, start : start + k], target)
            start += k
        if self.continuous_dim:
            sq = (code[:, start:] - q_out[:, start:]).pow(2).sum(dim=1)
            total = total - 0.5 * (sq + self.continuous_dim * math.log(2 * math.pi)).mean()
        return total

    def traversal_values(self, steps: int) -> Tensor:
        """Values a continuous dimension takes in a traversal: ``[-1, 1]`` (uniform) or ``[-2, 2]`` (Gaussian)."""
        edge = 1.0 if self.continuous == "uniform" else 2.0
        return torch.linspace(-edge, edge, steps)


def default_estimator(
    critic: nn.Module | None, x_shape: tuple[int, ...], z_dim: int, bound: Bound, ema_decay: float
) -> MINE:
    """MINE on ``(x, z)`` with ``critic``, or by default a ConcatCritic (flat ``x``) or ConvCritic (images)."""
    if critic is None:
        critic = (
            ConcatCritic(x_shape[0], z_dim, hidden_dims=(128, 128))
            if len(x_shape) == 1
            else ConvCritic(x_shape[0], x_shape[-1], z_dim)
        )
    return MINE(critic, bound=bound, ema_decay=ema_decay)


class GANModule(pl.LightningModule):
    """Base of the GAN modules: manual optimization, MI-augmented generator steps, shape checks, sampling.

    Under DDP, DDP's own gradient reducer is bypassed (``strategy.block_backward_sync``) and each optimizer
    averages exactly its own parameters' gradients across processes before stepping. Each backward pass
    here touches one network only (``toggle_optimizer``), which DDP's reducer, expecting every parameter in
    every backward, would otherwise reject; and the generator's two gradients ``g_u`` and ``g_m`` must be
    averaged *before* the clipping of eq. 21 so that the clip sees the global batch's gradients. Hence no
    ``find_unused_parameters=True`` is needed.

    Note:
        With manual optimization Lightning counts ``global_step`` (and ``max_steps``) per optimizer step:
        a training iteration of InfoGAN+MINE is three steps, of a plain GAN two. Budget iterations with
        epochs or ``limit_train_batches`` to compare methods.
    """

    #: shape of one sample x, set by subclasses
    x_shape: tuple[int, ...]

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.mode_coverage: nn.Module | None = None

    @staticmethod
    def _check_shared_arguments(
        clip: str | None, adversarial: str, mi_weight: float, mi_ema_decay: float, **learning_rates: float
    ) -> None:
        """The constructor arguments every GAN module of this package has, checked in one place."""
        check_choice("clip", clip, ("adaptive", None))
        check_choice("adversarial", adversarial, ADVERSARIAL_LOSSES)
        check_positive("mi_weight", mi_weight, strict=False)
        check_unit_interval("mi_ema_decay", mi_ema_decay)
        for name, lr in learning_rates.items():
            check_positive(name, lr)

    # ----------------------------------------------------------------- optimization
    def _average_gradients(self, grads: list[Tensor]) -> list[Tensor]:
        if self.trainer.world_size <= 1 or not grads:
            return grads
        flat = torch.cat([g.reshape(-1) for g in grads])
        flat = self.trainer.strategy.reduce(flat, reduce_op="mean")
        return [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]), grads, strict=True)]

    def _backward_grads(self, loss: Tensor, params: list[Tensor], retain_graph: bool = False) -> list[Tensor]:
        """Gradient of ``loss`` w.r.t. ``params`` (zeros where unused), through ``manual_backward``."""
        for p in params:
            p.grad = None
        # ParallelStrategy's context; single-device strategies have nothing to block.
        block = getattr(self.trainer.strategy, "block_backward_sync", contextlib.nullcontext)
        with block():
            self.manual_backward(loss, retain_graph=retain_graph)
        return [torch.zeros_like(p) if p.grad is None else p.grad for p in params]

    @staticmethod
    def _params(optimizer: Optimizer) -> list[Tensor]:
        return [p for group in optimizer.param_groups for p in group["params"]]

    @staticmethod
    def _set_grads_and_step(optimizer: Any, params: Sequence[Tensor], grads: Sequence[Tensor]) -> None:
        """Install ``grads`` as the gradients of ``params`` (all of ``optimizer``'s) and take one step."""
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def _step(self, optimizer: Any, loss: Tensor) -> None:
        """One step of ``optimizer`` on ``loss`` (call between ``toggle_optimizer`` and ``untoggle_optimizer``)."""
        params = self._params(optimizer)
        self._set_grads_and_step(optimizer, params, self._average_gradients(self._backward_grads(loss, params)))

    def _step_critic(self, critic_optimizer: Any, loss: Tensor, mi_params: Sequence[Tensor]) -> list[Tensor]:
        """Step MINE's statistics network on ``loss`` and return ``loss``'s gradient w.r.t. ``mi_params``.

        The critic ascends MINE's bound and the generator (or encoder) ascends the same estimate, so one
        backward pass of the critic's loss, taken on the *non-detached* batch, gives both the critic's step
        and the ``g_m`` of eq. 21 (averaged across processes): the critic is evaluated once per training
        step instead of twice. The model's graph is kept for its adversarial backward. Call outside any
        ``toggle_optimizer`` block, so that both networks' parameters require gradients.
        """
        t_params = self._params(critic_optimizer)
        grads = self._average_gradients(self._backward_grads(loss, [*t_params, *mi_params], retain_graph=True))
        self._set_grads_and_step(critic_optimizer, t_params, grads[: len(t_params)])
        return grads[len(t_params) :]

    def _step_with_mi(
        self,
        optimizer: Any,
        main_loss: Tensor,
        mi_loss: Tensor | None,
        weight: float,
        clip: str | None,
        mi_params: Sequence[Tensor] | None = None,
        mi_grads: Sequence[Tensor] | None = None,
    ) -> dict[str, Tensor]:
        r"""Step on ``g_u + β g_a`` where ``g_u = ∇ main_loss`` and ``g_m = ∇ mi_loss`` (eq. 21).

        With ``clip="adaptive"``, :math:`g_a = \min(\|g_u\|, \|g_m\|)\, g_m / \|g_m\|`, norms taken over
        ``mi_params`` (default: all of the optimizer's parameters); otherwise ``g_a = g_m``. ``mi_loss`` is
        the term to *minimize* (minus the MI estimate); ``mi_grads``, its gradient w.r.t. ``mi_params``
        already computed and averaged (see :meth:`_step_critic`), replaces it. Gradients are averaged
        across processes before clipping. Returns the norms of ``g_u``, ``g_m`` and ``g_a`` (over
        ``mi_params``). Call between ``toggle_optimizer`` and ``untoggle_optimizer``, the losses computed
        after the toggle.
        """
        params = self._params(optimizer)
        selected = set(map(id, mi_params)) if mi_params is not None else None
        idx = [i for i, p in enumerate(params) if selected is None or id(p) in selected]
        use_mi = mi_grads is None and mi_loss is not None and weight != 0
        g_u = [g.clone() for g in self._backward_grads(main_loss, params, retain_graph=use_mi)]
        if use_mi:
            assert mi_loss is not None
            averaged = self._average_gradients(g_u + self._backward_grads(mi_loss, params))
            g_u = averaged[: len(params)]
            g_m_sel = [averaged[len(params) + i] for i in idx]
        else:
            g_u = self._average_gradients(g_u)
            g_m_sel = list(mi_grads) if mi_grads is not None else [torch.zeros_like(params[i]) for i in idx]
        g_u_sel = [g_u[i] for i in idx]
        g_a_sel = adaptive_clip(g_u_sel, g_m_sel) if clip == "adaptive" else g_m_sel
        grads = list(g_u)
        for i, g in zip(idx, g_a_sel, strict=True):
            grads[i] = g_u[i] + weight * g
        self._set_grads_and_step(optimizer, params, grads)
        return {
            "grad_norm_adv": global_norm(g_u_sel).detach(),
            "grad_norm_mi": global_norm(g_m_sel).detach(),
            "grad_norm_mi_clipped": global_norm(g_a_sel).detach(),
        }

    def _is_logging_step(self) -> bool:
        """Whether Lightning writes training logs after this step (every ``log_every_n_steps``).

        For small networks ``self.log`` costs about a quarter of a step; values logged in between are never
        written, so they are not logged (nor computed, when they cost a forward pass) at all.
        """
        connector = getattr(self.trainer, "_logger_connector", None)  # Lightning's own write-or-not decision
        return connector is None or connector.should_update_logs or self.trainer.should_stop

    def _log_train(self, values: dict[str, Tensor]) -> None:
        """Log ``train/<name>`` for each entry, on logging steps only."""
        if self._is_logging_step():
            self.log_dict({f"train/{k}": v for k, v in values.items()})

    # ----------------------------------------------------------------- data
    @staticmethod
    def _real(batch: Any) -> Tensor:
        """``x`` from a batch that is ``x`` or ``(x, y, ...)``."""
        return batch[0] if isinstance(batch, (list, tuple)) else batch

    def _check_datamodule(self) -> None:
        """Fail before training when the data module's sample shape is not the model's ``x_shape``."""
        datamodule = getattr(self.trainer, "datamodule", None)
        dims = getattr(datamodule, "dims", None)
        if dims is not None and tuple(dims) != tuple(self.x_shape):
            raise ValueError(
                f"the data module {type(datamodule).__name__} yields samples of shape dims={tuple(dims)}, but "
                f"{type(self).__name__}'s networks produce x_shape={tuple(self.x_shape)}; configure the "
                f"networks for {tuple(dims)} (or the data module for {tuple(self.x_shape)})"
            )

    def _setup_mode_coverage(self) -> None:
        """Track mode coverage when the data module is a mixture (it exposes ``centers`` and ``std``)."""
        datamodule = getattr(self.trainer, "datamodule", None)
        centers = getattr(datamodule, "centers", None)
        if centers is None or self.mode_coverage is not None:
            return
        from mine_gan.metrics import ModeCoverage  # metrics are optional for a GAN; imported only for mixtures

        # As many generated samples as the validation set holds (2,500 for the VEEGAN/PacGAN protocol).
        self.mode_coverage = ModeCoverage.from_datamodule(datamodule).to(self.device)

    @override
    def setup(self, stage: str) -> None:
        self._check_datamodule()
        self._setup_mode_coverage()

    def _log_mode_coverage(self) -> None:
        if self.mode_coverage is None:
            return
        for name, value in self.mode_coverage.compute().items():
            self.log(f"val/{name}", torch.as_tensor(value, dtype=torch.float32), sync_dist=False)
        self.mode_coverage.reset()

    @override
    def on_validation_epoch_end(self) -> None:
        self._log_mode_coverage()

    # ----------------------------------------------------------------- sampling
    def _generate(self, n: int) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """``n`` generated samples ``(n, *x_shape)``, the networks in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return self._generate(n)
        finally:
            self.train(was_training)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Context in which ``module``'s parameters build no graph (so a borrowed network gets no gradients)."""
    state = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in state:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in state:
            p.requires_grad_(flag)
