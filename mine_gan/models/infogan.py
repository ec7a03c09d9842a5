"""InfoGAN with the code's mutual information estimated by MINE or by InfoGAN's auxiliary Q network.

Belghazi et al. (ICML 2018), §5.1: the generator takes ``z = [ε, c]`` and maximizes
``I(G([ε, c]); c)`` next to its adversarial loss, which reduces mode dropping. Chen et al. (2016) estimate
the same MI with a variational ``Q(c | x)``; both are available here so they can be compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from typing_extensions import override

from mine_gan.contracts import OUTPUTS_KEY
from mine_gan.estimators import MINE, find_shared_estimator
from mine_gan.estimators.mine import Bound
from mine_gan.models.gan import GANModule, default_estimator, draw_device, frozen, infer_x_shape
from mine_gan.nets.codes import ContinuousCode, LatentCode
from mine_gan.nets.losses import discriminator_loss, generator_loss
from mine_gan.recipe import AdversarialLoss, Clip, GANLRDecay, PenaltyPoints
from mine_gan.validation import check_choice, check_positive

MITarget = Literal["code", "latent"]

__all__ = ["InfoGAN"]


class InfoGAN(GANModule):
    r"""GAN whose generator also maximizes the MI between its output and its code or latent (InfoGAN / GAN+MINE).

    .. math:: \min_G\; \mathcal{L}_{adv}(G) - \beta\, \hat I(G([\varepsilon, c]); c)
              \quad\text{or}\quad \mathcal{L}_{adv}(G) - \beta\, \hat I(G(z); z)

    ``mi_target="code"`` is the ICML paper's form (§5.1): the MI with the code ``c`` of ``z = [ε, c]``, which
    saturates at ``H(c)`` once the categories are told apart. ``mi_target="latent"`` is the form of the
    ICLR 2018 submission: the MI with the whole latent, a proxy of the generator's entropy that keeps
    pushing samples apart.

    Each training batch takes a discriminator step (with ``mi="q"``, its code head too); every
    ``d_steps`` batches, MINE's statistics network ``T(x, ·)`` (``mi="mine"``, own estimator) and the
    generator step too, the generator on ``g_u + β g_a`` (eq. 21 with ``clip="adaptive"``, see
    :class:`~mine_gan.optim.MIGradientStep`: ``β`` scales the clipped MI gradient, capped at ``β‖g_u‖``).
    ``T`` and ``G`` both ascend MINE's estimate, so one backward pass of ``T``'s loss gives ``T``'s step and
    the generator's ``g_m`` (``G`` sees ``T`` as it was before this step's update).

    Args:
        generator: maps ``(N, noise_dim + code_dim)`` to samples; exposes ``latent_dim`` if possible.
        discriminator: ``D(x) -> (N,)`` logits; for ``mi="q"`` also ``forward_with_code(x)`` returning
            ``(logits, code_outputs)`` with ``code_dim`` outputs (e.g. :class:`~mine_gan.nets.MLPDiscriminator`
            with ``code_dim``).
        noise_dim: dimension of the unstructured noise ``ε ~ N(0, I)``.
        categorical_dims: categories of each one-hot code group.
        continuous_dim: continuous code dimensions.
        continuous: their distribution, ``"uniform"`` on ``[-1, 1]`` or ``"gaussian"``.
        mi: ``"mine"`` (a statistics network ``T``) or ``"q"`` (InfoGAN's ``Q(c | x)``, code only).
        mi_target: ``"code"`` (``I(G(z); c)``) or ``"latent"`` (``I(G(z); z)``, the entropy form).
        mi_weight: ``β``; 0 trains a plain GAN (same networks, code fed but not rewarded).
        clip: ``"adaptive"`` for eq. 21, ``None`` for the raw MI gradient.
        adversarial: ``"non_saturating"`` or ``"hinge"``.
        mi_source: ``"own"`` trains a MINE estimator here; ``"shared"`` borrows the estimator named
            ``mi_pair_name`` from a callback (a :class:`~mine_gan.callbacks.MutualInformationMonitor`, which
            trains it on the pair this module returns under ``OUTPUTS_KEY``). A borrowed estimator is not part of
            the module: it is neither saved with it nor wrapped by DDP.
        mi_pair_name: name of the pair ``(G(z), c)`` (or ``(G(z), z)``) returned under ``outputs[OUTPUTS_KEY]``
            (:data:`mine_gan.contracts.OUTPUTS_KEY`).
        critic: statistics network for ``mi="mine"``; default: a :class:`~mine_gan.estimators.ConcatCritic`
            for flat data, a :class:`~mine_gan.estimators.ConvCritic` for images.
        mi_bound: the bound ``T`` is trained on and ``G`` ascends (``"mine"``: DV with the EMA-corrected
            gradient, §3.2; ``"js"``: Jensen–Shannon, as in MEG, Kumar et al. 2019; see :class:`~mine_gan.MINE`).
        mi_ema_decay: decay of MINE's moving average.
        d_steps: discriminator steps (one per batch) per generator step.
        d_penalty: ``γ`` of the zero-centred gradient penalty ``(γ/2) E‖∇_x D‖²`` on the discriminator.
        d_penalty_points: ``"real"`` (R1, Mescheder et al. 2018) or ``"interpolates"`` of real and fake.
        mi_penalty: ``γ`` of the same penalty on ``T`` at the joint samples.
        lr_decay: ``"linear"`` decays every learning rate to 0 over ``trainer.estimated_stepping_batches``;
            ``"none"`` keeps them.
        lr_g, lr_d, lr_mi: Adam learning rates of generator, discriminator (and Q head), critic.
        betas: Adam's betas for all three.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        noise_dim: int = 62,
        categorical_dims: Sequence[int] = (10,),
        continuous_dim: int = 0,
        continuous: ContinuousCode = "uniform",
        mi: Literal["mine", "q"] = "mine",
        mi_target: MITarget = "code",
        mi_weight: float = 1.0,
        clip: Clip | None = "adaptive",
        adversarial: AdversarialLoss = "non_saturating",
        mi_source: Literal["own", "shared"] = "own",
        mi_pair_name: str = "code",
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
        check_choice("mi", mi, ("mine", "q"))
        check_choice("mi_target", mi_target, ("code", "latent"))
        check_choice("mi_source", mi_source, ("own", "shared"))
        check_choice("continuous", continuous, ("uniform", "gaussian"))
        check_positive("noise_dim", noise_dim)
        if any(int(k) < 2 for k in categorical_dims) or continuous_dim < 0:
            raise ValueError(
                f"categorical code groups need >= 2 categories and `continuous_dim` >= 0, got "
                f"categorical_dims={list(categorical_dims)}, continuous_dim={continuous_dim}"
            )
        if mi_source == "shared" and mi != "mine":
            raise ValueError(f"`mi_source='shared'` borrows a MINE estimator; it needs mi='mine', got mi={mi!r}")
        if mi == "q" and mi_target != "code":
            raise ValueError(
                f"InfoGAN's Q(c | x) estimates the code's MI: mi='q' needs mi_target='code', got {mi_target!r}"
            )
        self._save_hyperparameters("generator", "discriminator", "critic")
        self.code = LatentCode(categorical_dims, continuous_dim, continuous)
        if self.code.dim == 0 and mi_weight > 0 and mi_target == "code":
            raise ValueError("an MI term needs a code: set `categorical_dims` or `continuous_dim` (or mi_weight=0)")
        self.noise_dim = noise_dim
        self.mi, self.mi_target = mi, mi_target
        self.mi_source, self.mi_pair_name = mi_source, mi_pair_name
        self.generator, self.discriminator = generator, discriminator

        latent_dim = noise_dim + self.code.dim
        expected = getattr(generator, "latent_dim", None)
        if expected is not None and expected != latent_dim:
            raise ValueError(
                f"the generator takes latent_dim={expected} inputs, but InfoGAN feeds noise_dim + code_dim = "
                f"{noise_dim} + {self.code.dim} = {latent_dim}; make them agree"
            )
        self.x_shape = infer_x_shape(generator, latent_dim)
        d_shape = getattr(discriminator, "x_shape", None)
        if d_shape is not None and tuple(d_shape) != self.x_shape:
            raise ValueError(
                f"the discriminator takes x of shape {tuple(d_shape)}, but the generator produces {self.x_shape}"
            )
        if mi == "q":
            head = getattr(discriminator, "code_dim", None)
            if not hasattr(discriminator, "forward_with_code") or head != self.code.dim:
                raise ValueError(
                    f"mi='q' needs a discriminator with a code head of code_dim={self.code.dim} outputs "
                    f"(the code's dimension) and `forward_with_code`; got code_dim={head}"
                )
        self.mine = None
        if mi == "mine" and mi_source == "own" and mi_weight > 0:
            target_dim = self.code.dim if mi_target == "code" else latent_dim
            self.mine = default_estimator(critic, self.x_shape, target_dim, mi_bound, mi_ema_decay)
        # Borrowed estimators live in a plain dict: not submodules, so not saved, moved or wrapped with the model.
        self._borrowed: dict[str, MINE] = {}

    # ----------------------------------------------------------------- setup
    @override
    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.mi_source == "shared":
            self._borrowed = {self.mi_pair_name: find_shared_estimator(self.trainer.callbacks, self.mi_pair_name)}

    @property
    def estimator(self) -> MINE | None:
        """The MINE estimator in use (own or borrowed), ``None`` with ``mi="q"``."""
        return self._borrowed.get(self.mi_pair_name) if self.mi_source == "shared" else self.mine

    @override
    def configure_optimizers(self) -> Any:
        optimizers = [
            self._adam(self.discriminator.parameters(), self.hparams.lr_d),
            self._adam(self.generator.parameters(), self.hparams.lr_g),
        ]
        if self.mine is not None:
            optimizers.append(self._adam(self.mine.parameters(), self.hparams.lr_mi))
        return self._with_schedules(optimizers)

    # ----------------------------------------------------------------- latent
    def latent(self, n: int, rng: torch.Generator | None = None, code: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(z, c)``: generator input ``z = [ε, c]`` ``(n, noise_dim + code_dim)`` and code ``c``.

        Drawn from ``rng`` (default: torch's global stream), on ``rng``'s device and moved to the module's
        (:func:`~mine_gan.models.gan.draw_device`). ``code`` fixes the code: ``(code_dim,)`` for every sample,
        or ``(n, code_dim)``.
        """
        return self._latent(n, rng, code, per_process=False)

    def _latent(
        self, n: int, rng: torch.Generator | None, code: Tensor | None = None, *, per_process: bool = True
    ) -> tuple[Tensor, Tensor]:
        """:meth:`latent`; with ``per_process``, this process's ``n`` rows of a batch drawn for all processes."""
        draw = self._draw if per_process else (lambda rows, sampler, g: sampler(rows, g))
        noise = draw(n, lambda m, g: self._randn(m, self.noise_dim, rng=g), rng)
        if code is None:
            code = draw(
                n, lambda m, g: self.code.sample(m, draw_device(g, self.device), rng=g).to(self.device, self.dtype), rng
            )
        else:
            code = torch.as_tensor(code, dtype=noise.dtype, device=self.device).expand(n, self.code.dim)
        return torch.cat([noise, code], dim=1), code

    @override
    def _generate(self, n: int, rng: torch.Generator | None, code: Tensor | None = None) -> Tensor:
        return self.generator(self.latent(n, rng, code)[0])

    @torch.no_grad()
    def code_traversal(self, steps: int, rng: torch.Generator | None = None) -> Tensor:
        """Samples ``(code_dim, steps, *x_shape)``, one row per code dimension.

        Continuous dimension ``j``: ``c_j`` sweeps its range over the columns, noise and the rest of the
        code fixed. Categorical dimension ``j``: the group is set to category ``j`` in the whole row and the
        columns take ``steps`` noise draws shared by all rows (InfoGAN's figure layout).
        """
        check_positive("steps", steps)
        base_z, base_c = self.latent(1, rng)
        noise = self._randn(steps, self.noise_dim, rng=rng)
        rows = []
        start = 0
        for k in self.code.categorical_dims:
            for j in range(k):
                c = base_c.repeat(steps, 1)
                c[:, start : start + k] = 0.0
                c[:, start + j] = 1.0
                rows.append(torch.cat([noise, c], dim=1))
            start += k
        values = self.code.traversal_values(steps).to(self.device)
        for j in range(self.code.continuous_dim):
            c = base_c.repeat(steps, 1)
            c[:, start + j] = values
            rows.append(torch.cat([base_z[:, : self.noise_dim].repeat(steps, 1), c], dim=1))
        was_training = self.training
        self.eval()
        try:
            out = self.generator(torch.cat(rows))
        finally:
            self.train(was_training)
        return out.view(self.code.dim, steps, *self.x_shape)

    # ----------------------------------------------------------------- training
    def _target(self, z: Tensor, code: Tensor) -> Tensor:
        """What the MI is measured against: the code, or the whole latent."""
        return code if self.mi_target == "code" else z

    def _q_information(self, q_out: Tensor, code: Tensor) -> Tensor:
        """InfoGAN's lower bound ``H(c) + E[log Q(c | x)]`` (Chen et al. 2016, Lemma 5.1)."""
        return self.code.entropy() + self.code.log_likelihood(q_out, code)

    @override
    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        opt_d, opt_g, opt_t = self._optimizer_parts()
        real = self._real(batch)
        z, code = self._latent(real.shape[0], self.random_stream)
        target = self._target(z, code)
        fake = self.generator(z)
        logs: dict[str, Tensor] = {}

        # Discriminator (with mi="q", its code head ascends the same bound as the generator, Chen et al.).
        self.toggle_optimizer(opt_d)
        real_logits = self.discriminator(real)
        if self.mi == "q":
            fake_logits, q_out = self.discriminator.forward_with_code(fake.detach())
            q_mi = self._per_seed(self._q_information, q_out, code)
            d_loss = self._per_seed(discriminator_loss, real_logits, fake_logits, kind=self.adversarial)
            d_loss = d_loss - self.mi_weight * q_mi
            logs["mi"] = q_mi.detach()
        else:
            fake_logits = self.discriminator(fake.detach())
            d_loss = self._per_seed(discriminator_loss, real_logits, fake_logits, kind=self.adversarial)
        if self.d_penalty > 0:
            d_loss = d_loss + self._penalty(
                self.discriminator, self.d_penalty, real, points=self.d_penalty_points, fake=fake
            )
        self._step_discriminator(opt_d, d_loss)
        self.untoggle_optimizer(opt_d)
        logs["d_loss"] = d_loss.detach()
        outputs = {OUTPUTS_KEY: {self.mi_pair_name: (fake.detach(), target)}}
        if not self._generator_step_due():
            self._log_train(logs)
            return outputs

        # MINE's statistics network T ascends its bound on the global batch; the same backward gives the
        # generator's g_m, since G ascends the same estimate.
        g_params = self._params(opt_g)
        mi_grads: list[Tensor] | None = None
        mi_value: Tensor | None = None
        if opt_t is not None:
            x_all, target_all = self._gather(fake), self._gather(target)
            t_loss = mi_loss = self.mine.loss(x_all, target_all, rng=self.random_stream)
            if self.mi_penalty > 0:
                t_loss = t_loss + self._penalty(self.mine.critic, self.mi_penalty, x_all, target_all)
            mi_grads = self._step_critic(opt_t, t_loss, g_params)
            mi_value = -mi_loss.detach()

        # Generator: adversarial loss and MI term from the same forward of the fake batch.
        self.toggle_optimizer(opt_g)
        if self.mi == "q":
            fake_logits, q_out = self.discriminator.forward_with_code(fake)
        else:
            fake_logits = self.discriminator(fake)
        g_adv = self._per_seed(generator_loss, fake_logits, kind=self.adversarial)
        if self.mi_weight > 0 and mi_grads is None:  # Q, or a borrowed estimator the callback trains
            if self.mi == "q":
                mi_loss = -self._per_seed(self._q_information, q_out, code)
            else:
                mi_loss = self._shared_mi_loss(fake, target)
            mi_grads = self._gradients(mi_loss.sum(), g_params, retain_graph=True)
            mi_value = -mi_loss.detach()
        norms = self._step_generator(opt_g, g_adv, mi_grads)
        self.untoggle_optimizer(opt_g)
        logs["g_loss"] = g_adv.detach()
        if mi_value is not None:
            logs["mi"] = mi_value
        logs.update(norms)
        self._log_train(logs)
        return outputs

    def _shared_mi_loss(self, fake: Tensor, target: Tensor) -> Tensor:
        """Minus the borrowed estimator's value on the global batch, differentiable in ``fake`` only."""
        estimator = self.estimator
        assert estimator is not None
        # The callback owns and trains T (and its moving average); the generator's step must not touch them.
        with frozen(estimator):
            return estimator.loss(self._gather(fake), self._gather(target), update_ema=False, rng=self.random_stream)

    @override
    def _evaluate(self, batch: Any, stage: str, rng: torch.Generator) -> dict[str, Any]:
        n = self._real(batch).shape[0]
        z, code = self._latent(n, rng)
        target = self._target(z, code)
        fake = self.generator(z)
        self._update_mode_coverage(fake)
        mi = None
        if self.mi == "q":
            _, q_out = self.discriminator.forward_with_code(fake)
            mi = self._per_seed(self._q_information, q_out, code)
        elif self.estimator is not None and n > 1:
            # On the global batch, as in training: the same value for any number of processes.
            mi = self.estimator(self._gather(fake), self._gather(target), rng)
        if mi is not None:
            self._log_values(stage, {"mi": mi}, sync_dist=True)
        return {OUTPUTS_KEY: {self.mi_pair_name: (fake, target)}}  # for a MutualInformationMonitor's held-out value
