"""BiGAN / ALI with the encoder's mutual information maximized by MINE (Belghazi et al., ICML 2018, §5.2).

ALI (Dumoulin et al. 2017) and BiGAN (Donahue et al. 2017) learn a generator ``G(z)`` and an encoder
``E(x)`` against a joint discriminator ``D(x, z)``. The reconstruction error is bounded by
``KL(q ‖ p) − I_q(x, z) + H_q(z)``; with a Gaussian encoder of fixed σ, ``H_q(z)`` is fixed, so the encoder
additionally ascends ``β·I(x; E(x))``, estimated by MINE, with adaptive gradient clipping.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from typing_extensions import override

from mine_gan.estimators import MINE
from mine_gan.estimators.mine import Bound
from mine_gan.models.gan import (
    AdversarialLoss,
    Clip,
    GANModule,
    default_estimator,
    discriminator_loss,
    generator_loss,
    infer_x_shape,
)

__all__ = ["BiGAN"]


class BiGAN(GANModule):
    r"""ALI/BiGAN whose encoder also maximizes ``I(x; E(x))`` (ALI+MINE).

    .. math::
        \min_{G, E}\; \mathcal{L}_{adv}(G, E) - \beta\, \hat I(x; E(x)),
        \qquad E(x) = \mu(x) + \sigma(x)\,\epsilon

    Each training step: the joint discriminator on ``(x, E(x))`` (real) against ``(G(z), z)`` (fake); MINE's
    statistics network ``T(x, z)`` on ``(x, E(x))``; then generator and encoder together (one optimizer)
    on the flipped adversarial loss, the encoder adding ``β g_a`` (eq. 21, norms over the encoder's
    parameters). One backward pass of ``T``'s loss gives both ``T``'s step and the encoder's ``g_m``
    (both ascend the estimate). Logs ``train/recon_error`` and ``val/recon_error``: mean ``‖x − G(μ(x))‖₂``.

    Args:
        generator: ``G(z)`` from ``(N, latent_dim)``, exposing ``latent_dim``.
        encoder: ``E(x) -> (mean, log_std)`` (e.g. :class:`~mine_gan.nets.MLPEncoder`).
        discriminator: joint ``D(x, z) -> (N,)`` logits (a discriminator built with ``latent_dim``).
        mi_weight: ``β``; 0 trains plain ALI.
        clip: ``"adaptive"`` (eq. 21) or ``None``.
        adversarial: ``"non_saturating"`` or ``"hinge"``.
        critic: statistics network ``T(x, z)``; default a ConcatCritic (flat data) or ConvCritic (images).
        mi_bound: MINE's bound.
        mi_ema_decay: decay of MINE's moving average.
        lr_g, lr_d, lr_mi: Adam learning rates (generator and encoder share ``lr_g``).
        betas: Adam's betas.
    """

    def __init__(
        self,
        generator: nn.Module,
        encoder: nn.Module,
        discriminator: nn.Module,
        mi_weight: float = 1.0,
        clip: Clip | None = "adaptive",
        adversarial: AdversarialLoss = "non_saturating",
        critic: nn.Module | None = None,
        mi_bound: Bound = "mine",
        mi_ema_decay: float = 0.99,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        lr_mi: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        super().__init__()
        self._check_shared_arguments(clip, adversarial, mi_weight, mi_ema_decay, lr_g=lr_g, lr_d=lr_d, lr_mi=lr_mi)
        self.save_hyperparameters(ignore=["generator", "encoder", "discriminator", "critic"])
        self.generator, self.encoder, self.discriminator = generator, encoder, discriminator
        self.mi_weight, self.clip, self.adversarial = mi_weight, clip, adversarial

        dims = {
            f"{name}.latent_dim": getattr(net, "latent_dim", None)
            for name, net in (("generator", generator), ("encoder", encoder), ("discriminator", discriminator))
        }
        if dims["generator.latent_dim"] is None:
            raise ValueError("BiGAN needs a generator exposing `latent_dim` (the dimension of z)")
        if len({d for d in dims.values() if d is not None}) != 1:
            raise ValueError(
                f"generator, encoder and joint discriminator must agree on the latent dimension, got {dims}"
            )
        self.noise_dim: int = int(dims["generator.latent_dim"])
        self.x_shape = infer_x_shape(generator, self.noise_dim)
        for name, net in (("encoder", encoder), ("discriminator", discriminator)):
            shape = getattr(net, "x_shape", None)
            if shape is not None and tuple(shape) != self.x_shape:
                raise ValueError(
                    f"the {name} takes x of shape {tuple(shape)}, but the generator produces {self.x_shape}"
                )
        self.mine: MINE | None = None
        if mi_weight > 0:
            self.mine = default_estimator(critic, self.x_shape, self.noise_dim, mi_bound, mi_ema_decay)

    @override
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas = tuple(self.hparams.betas)
        optimizers = [
            torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams.lr_d, betas=betas),
            torch.optim.Adam(
                [{"params": self.generator.parameters()}, {"params": self.encoder.parameters()}],
                lr=self.hparams.lr_g,
                betas=betas,
            ),
        ]
        if self.mine is not None:
            optimizers.append(torch.optim.Adam(self.mine.parameters(), lr=self.hparams.lr_mi, betas=betas))
        return optimizers

    @override
    def _generate(self, n: int) -> Tensor:
        return self.generator(torch.randn(n, self.noise_dim, device=self.device))

    def encode(self, x: Tensor) -> Tensor:
        """A sample ``z ~ q(z | x)`` by reparametrization, ``(N, latent_dim)``."""
        mean, log_std = self.encoder(x)
        return mean + log_std.exp() * torch.randn_like(mean)

    @torch.no_grad()
    def reconstruction_error(self, x: Tensor) -> Tensor:
        """Mean Euclidean distance ``‖x − G(μ(x))‖₂`` over the batch."""
        return (x - self.generator(self.encoder(x)[0])).flatten(1).norm(dim=1).mean()

    @override
    def training_step(self, batch: Any, batch_idx: int) -> None:
        optimizers = self.optimizers()
        opt_d, opt_ge = optimizers[0], optimizers[1]
        real = self._real(batch)
        z = torch.randn(real.shape[0], self.noise_dim, device=self.device)
        fake = self.generator(z)
        z_enc = self.encode(real)
        logs: dict[str, Tensor] = {}

        self.toggle_optimizer(opt_d)
        d_loss = discriminator_loss(
            self.discriminator(real, z_enc.detach()), self.discriminator(fake.detach(), z), self.adversarial
        )
        self._step(opt_d, d_loss)
        self.untoggle_optimizer(opt_d)
        logs["d_loss"] = d_loss.detach()

        # MINE's statistics network T(x, E(x)) ascends its bound; the same backward gives the encoder's g_m.
        encoder_params = list(self.encoder.parameters())
        mi_loss: Tensor | None = None
        mi_grads: list[Tensor] | None = None
        if self.mine is not None:
            mi_loss = self.mine.loss(real, z_enc)
            mi_grads = self._step_critic(optimizers[2], mi_loss, encoder_params)
            logs["mi"] = -mi_loss.detach()

        # Generator and encoder fool D with the labels flipped; only the encoder sees the MI term.
        self.toggle_optimizer(opt_ge)
        real_logits, fake_logits = self.discriminator(real, z_enc), self.discriminator(fake, z)
        g_adv = generator_loss(fake_logits, self.adversarial) + generator_loss(-real_logits, self.adversarial)
        norms = self._step_with_mi(
            opt_ge, g_adv, mi_loss, self.mi_weight, self.clip, mi_params=encoder_params, mi_grads=mi_grads
        )
        self.untoggle_optimizer(opt_ge)
        logs["g_loss"] = (g_adv + self.mi_weight * mi_loss).detach() if mi_loss is not None else g_adv.detach()
        logs.update(norms)
        if self._is_logging_step():
            logs["recon_error"] = self.reconstruction_error(real)
            self._log_train(logs)

    @override
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        real = self._real(batch)
        self.log("val/recon_error", self.reconstruction_error(real), sync_dist=True)
        if self.mode_coverage is not None:
            self.mode_coverage.update(self._generate(real.shape[0]))
        if self.mine is not None and real.shape[0] > 1:
            self.log("val/mi", self.mine(real, self.encode(real)), sync_dist=True)
