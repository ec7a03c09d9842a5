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

from mine_gan.estimators.mine import Bound
from mine_gan.models.gan import GANModule, default_estimator, infer_x_shape
from mine_gan.nets.losses import discriminator_loss, generator_loss
from mine_gan.recipe import AdversarialLoss, Clip, GANLRDecay, PenaltyPoints

__all__ = ["BiGAN"]


class BiGAN(GANModule):
    r"""ALI/BiGAN whose encoder also maximizes ``I(x; E(x))`` (ALI+MINE).

    .. math::
        \min_{G, E}\; \mathcal{L}_{adv}(G, E) - \beta\, \hat I(x; E(x)),
        \qquad E(x) = \mu(x) + \sigma(x)\,\epsilon

    Each training batch: the joint discriminator on ``(x, E(x))`` (real) against ``(G(z), z)`` (fake); every
    ``d_steps`` batches also MINE's statistics network ``T(x, z)`` on ``(x, E(x))`` and then generator and
    encoder together (one optimizer) on the flipped adversarial loss, the encoder adding ``β g_a``
    (eq. 21, norms over the encoder's parameters; see :class:`~mine_gan.optim.MIGradientStep`). One
    backward pass of ``T``'s loss gives both ``T``'s step and the encoder's ``g_m`` (both ascend the
    estimate). Logs ``train/recon_error`` and ``val/recon_error``: mean ``‖x − G(μ(x))‖₂``, computed with
    the networks in eval mode. ``predict_step`` returns generated samples and the batch's encodings ``μ(x)``.

    The discriminator's input is the pair ``(x, z)``, so its zero-centred penalty (``d_penalty`` = γ) is R1
    (Mescheder et al., ICML 2018, eq. 9) on that joint input, at the real pairs or at interpolates
    ``(x̂, ẑ) = u (x, E(x)) + (1 − u) (G(z), z)``:

    .. math::
        \frac{\gamma}{2}\, \mathbb{E}\left[\|\nabla_x D(\hat x, \hat z)\|^2
        + \|\nabla_z D(\hat x, \hat z)\|^2\right]

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
        d_steps: discriminator steps (one per batch) per generator/encoder step.
        d_penalty: ``γ`` of the zero-centred penalty on the joint input of the discriminator,
            ``(γ/2) E[‖∇_x D(x, z)‖² + ‖∇_z D(x, z)‖²]`` (R1 of Mescheder et al., ICML 2018, eq. 9, extended to
            the pair ``(x, z)`` that ``D`` sees).
        d_penalty_points: ``"real"`` (at ``(x, E(x))``) or ``"interpolates"`` between the pairs ``(x, E(x))``
            and ``(G(z), z)``, one weight ``u`` for both parts of a pair.
        mi_penalty: ``γ`` of the zero-centred penalty ``(γ/2) E‖∇_x T(x, E(x))‖²`` on MINE's ``T`` (in ``x``
            only, as in InfoGAN).
        lr_decay: ``"linear"`` decays every learning rate to 0 over ``trainer.estimated_stepping_batches``;
            ``"none"`` keeps them.
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
        d_steps: int = 1,
        d_penalty: float = 0.0,
        d_penalty_points: PenaltyPoints = "real",
        mi_penalty: float = 0.0,
        lr_decay: GANLRDecay = "none",
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        lr_mi: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        super().__init__()
        self._configure_training(
            clip=clip, adversarial=adversarial, mi_weight=mi_weight, mi_ema_decay=mi_ema_decay, d_steps=d_steps,
            d_penalty=d_penalty, d_penalty_points=d_penalty_points, mi_penalty=mi_penalty, lr_decay=lr_decay,
            lr_g=lr_g, lr_d=lr_d, lr_mi=lr_mi,
        )  # fmt: skip
        self._save_hyperparameters("generator", "encoder", "discriminator", "critic")
        self.generator, self.encoder, self.discriminator = generator, encoder, discriminator

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
        self.mine = (
            default_estimator(critic, self.x_shape, self.noise_dim, mi_bound, mi_ema_decay) if mi_weight > 0 else None
        )

    @override
    def configure_optimizers(self) -> Any:
        optimizers = [
            self._adam(self.discriminator.parameters(), self.hparams.lr_d),
            self._adam(
                [{"params": self.generator.parameters()}, {"params": self.encoder.parameters()}], self.hparams.lr_g
            ),
        ]
        if self.mine is not None:
            optimizers.append(self._adam(self.mine.parameters(), self.hparams.lr_mi))
        return self._with_schedules(optimizers)

    def _noise(self, n: int, rng: torch.Generator | None, per_process: bool) -> Tensor:
        sampler = lambda m, g: self._randn(m, self.noise_dim, rng=g)  # noqa: E731
        return self._draw(n, sampler, rng) if per_process else sampler(n, rng)

    @override
    def _generate(self, n: int, rng: torch.Generator | None) -> Tensor:
        return self.generator(self._noise(n, rng, per_process=False))

    def encode(self, x: Tensor, rng: torch.Generator | None = None) -> Tensor:
        """A sample ``z ~ q(z | x)`` by reparametrization, ``(N, latent_dim)``, its noise from ``rng``."""
        return self._encode(x, rng, per_process=False)

    def _encode(self, x: Tensor, rng: torch.Generator | None, per_process: bool) -> Tensor:
        mean, log_std = self.encoder(x)
        return mean + log_std.exp() * self._noise(x.shape[0], rng, per_process)

    @torch.no_grad()
    def reconstruction_error(self, x: Tensor) -> Tensor:
        """Mean Euclidean distance ``‖x − G(μ(x))‖₂`` over the batch (each seed's, ``(S,)``, for several), eval mode.

        Eval mode leaves batch-norm running statistics untouched, so training does not depend on how often
        this is logged.
        """
        modes = [(net, net.training) for net in (self.generator, self.encoder)]
        for net, _ in modes:
            net.eval()
        try:
            return self._seed_mean((x - self.generator(self.encoder(x)[0])).flatten(1).norm(dim=1))
        finally:
            for net, mode in modes:
                net.train(mode)

    @override
    def training_step(self, batch: Any, batch_idx: int) -> None:
        opt_d, opt_ge, opt_t = self._optimizer_parts()
        real = self._real(batch)
        z = self._noise(real.shape[0], self.random_stream, per_process=True)
        fake = self.generator(z)
        z_enc = self._encode(real, self.random_stream, per_process=True)
        logs: dict[str, Tensor] = {}

        self.toggle_optimizer(opt_d)
        d_loss = self._per_seed(
            discriminator_loss,
            self.discriminator(real, z_enc.detach()),
            self.discriminator(fake.detach(), z),
            kind=self.adversarial,
        )
        if self.d_penalty > 0:
            # D's input is the pair (x, z): R1 on the joint input, interpolates between whole pairs.
            d_loss = d_loss + self._penalty(
                self.discriminator, self.d_penalty, (real, z_enc), points=self.d_penalty_points, fake=(fake, z)
            )
        self._step_discriminator(opt_d, d_loss)
        self.untoggle_optimizer(opt_d)
        logs["d_loss"] = d_loss.detach()
        if not self._generator_step_due():
            self._log_train(logs)
            return

        # MINE's statistics network T(x, E(x)) ascends its bound on the global batch; the same backward gives
        # the encoder's g_m.
        encoder_params = set(self.encoder.parameters())
        ge_params = self._params(opt_ge)
        mi_grads: list[Tensor | None] | None = None
        if opt_t is not None:
            x_all, z_all = self._gather(real), self._gather(z_enc)
            t_loss = mi_loss = self.mine.loss(x_all, z_all, rng=self.random_stream)
            if self.mi_penalty > 0:
                t_loss = t_loss + self._penalty(self.mine.critic, self.mi_penalty, x_all, z_all)
            encoder_grads = iter(self._step_critic(opt_t, t_loss, [p for p in ge_params if p in encoder_params]))
            mi_grads = [next(encoder_grads) if p in encoder_params else None for p in ge_params]
            logs["mi"] = -mi_loss.detach()

        # Generator and encoder fool D with the labels flipped; only the encoder sees the MI term.
        self.toggle_optimizer(opt_ge)
        real_logits, fake_logits = self.discriminator(real, z_enc), self.discriminator(fake, z)
        g_adv = self._per_seed(generator_loss, fake_logits, kind=self.adversarial) + self._per_seed(
            generator_loss, -real_logits, kind=self.adversarial
        )
        norms = self._step_generator(opt_ge, g_adv, mi_grads)
        self.untoggle_optimizer(opt_ge)
        logs["g_loss"] = g_adv.detach()
        logs.update(norms)
        if self._is_logging_step():
            logs["recon_error"] = self.reconstruction_error(real)
            self._log_train(logs)

    @override
    def _evaluate(self, batch: Any, stage: str, rng: torch.Generator) -> None:  # noqa: D102
        real = self._real(batch)
        self._log_values(stage, {"recon_error": self.reconstruction_error(real)}, sync_dist=True)
        if self.mode_coverage is not None:
            self._update_mode_coverage(self.generator(self._noise(real.shape[0], rng, per_process=True)))
        if self.mine is not None and real.shape[0] > 1:
            z_enc = self._encode(real, rng, per_process=True)
            # On the global batch, as in training: the same value for any number of processes.
            self._log_values(stage, {"mi": self.mine(self._gather(real), self._gather(z_enc), rng)}, sync_dist=True)

    @override
    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """Generated samples (as many as the batch's rows) and the batch's encodings ``μ(x)``."""
        was_training = self.training
        self.eval()
        try:
            return {"samples": super().predict_step(batch, batch_idx), "encodings": self.encoder(self._real(batch))[0]}
        finally:
            self.train(was_training)
