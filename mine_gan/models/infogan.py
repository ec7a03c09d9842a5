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

from mine_gan.estimators import MINE, find_shared_estimator
from mine_gan.estimators.mine import Bound
from mine_gan.models.gan import (
    AdversarialLoss,
    Clip,
    ContinuousCode,
    GANModule,
    LatentCode,
    default_estimator,
    discriminator_loss,
    frozen,
    generator_loss,
    infer_x_shape,
)
from mine_gan.validation import check_choice, check_positive

__all__ = ["InfoGAN"]


class InfoGAN(GANModule):
    r"""GAN whose generator also maximizes the MI between its output and a code (InfoGAN / GAN+MINE).

    .. math:: \min_G\; \mathcal{L}_{adv}(G) - \beta\, \hat I(G([\varepsilon, c]); c)

    Each training step generates one fake batch and takes three steps: the discriminator (and, with
    ``mi="q"``, its code head), MINE's statistics network ``T(x, c)`` (``mi="mine"``, own estimator),
    and the generator on ``g_u + β g_a`` (eq. 21 with ``clip="adaptive"``, else ``g_u + β g_m``). ``T`` and
    ``G`` both ascend MINE's estimate, so one backward pass of ``T``'s loss on the fake batch gives ``T``'s
    step and the generator's ``g_m`` (``G`` sees ``T`` as it was before this step's update).

    Args:
        generator: maps ``(N, noise_dim + code_dim)`` to samples; exposes ``latent_dim`` if possible.
        discriminator: ``D(x) -> (N,)`` logits; for ``mi="q"`` also ``forward_with_code(x)`` returning
            ``(logits, code_outputs)`` with ``code_dim`` outputs (e.g. :class:`~mine_gan.nets.MLPDiscriminator`
            with ``code_dim``).
        noise_dim: dimension of the unstructured noise ``ε ~ N(0, I)``.
        categorical_dims: categories of each one-hot code group.
        continuous_dim: continuous code dimensions.
        continuous: their distribution, ``"uniform"`` on ``[-1, 1]`` or ``"gaussian"``.
        mi: ``"mine"`` (a statistics network ``T(x, c)``) or ``"q"`` (InfoGAN's ``Q(c | x)``).
        mi_weight: ``β``; 0 trains a plain GAN (same networks, code fed but not rewarded).
        clip: ``"adaptive"`` for eq. 21, ``None`` for the raw MI gradient.
        adversarial: ``"non_saturating"`` or ``"hinge"``.
        mi_source: ``"own"`` trains a MINE estimator here; ``"shared"`` borrows the estimator named
            ``mi_pair_name`` from a callback (see :func:`~mine_gan.estimators.find_shared_estimator`), which
            trains it; the pair it should measure is exposed as ``self.mi_pairs[mi_pair_name]``.
        mi_pair_name: name of the ``(x, c)`` pair.
        critic: statistics network for ``mi="mine"``; default: a :class:`~mine_gan.estimators.ConcatCritic`
            for flat data, a :class:`~mine_gan.estimators.ConvCritic` for images.
        mi_bound: MINE's bound (``"mine"``: DV with the EMA-corrected gradient, §3.2).
        mi_ema_decay: decay of MINE's moving average.
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
        mi_weight: float = 1.0,
        clip: Clip | None = "adaptive",
        adversarial: AdversarialLoss = "non_saturating",
        mi_source: Literal["own", "shared"] = "own",
        mi_pair_name: str = "code",
        critic: nn.Module | None = None,
        mi_bound: Bound = "mine",
        mi_ema_decay: float = 0.99,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        lr_mi: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        super().__init__()
        check_choice("mi", mi, ("mine", "q"))
        self._check_shared_arguments(clip, adversarial, mi_weight, mi_ema_decay, lr_g=lr_g, lr_d=lr_d, lr_mi=lr_mi)
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
        self.save_hyperparameters(ignore=["generator", "discriminator", "critic"])
        self.code = LatentCode(categorical_dims, continuous_dim, continuous)
        if self.code.dim == 0 and mi_weight > 0:
            raise ValueError("an MI term needs a code: set `categorical_dims` or `continuous_dim` (or mi_weight=0)")
        self.noise_dim = noise_dim
        self.mi, self.mi_weight, self.clip, self.adversarial = mi, mi_weight, clip, adversarial
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
        self.mine: MINE | None = None
        if mi == "mine" and mi_source == "own" and mi_weight > 0:
            self.mine = default_estimator(critic, self.x_shape, self.code.dim, mi_bound, mi_ema_decay)
        self._shared: MINE | None = None
        self.mi_pairs: dict[str, tuple[Tensor, Tensor]] = {}

    # ----------------------------------------------------------------- setup
    @override
    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.mi_source == "shared":
            self._shared = find_shared_estimator(self.trainer.callbacks, self.mi_pair_name)

    @property
    def estimator(self) -> MINE | None:
        """The MINE estimator in use (own or borrowed), ``None`` with ``mi="q"``."""
        return self._shared if self.mi_source == "shared" else self.mine

    @override
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas = tuple(self.hparams.betas)
        optimizers = [
            torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams.lr_d, betas=betas),
            torch.optim.Adam(self.generator.parameters(), lr=self.hparams.lr_g, betas=betas),
        ]
        if self.mine is not None:
            optimizers.append(torch.optim.Adam(self.mine.parameters(), lr=self.hparams.lr_mi, betas=betas))
        return optimizers

    # ----------------------------------------------------------------- latent
    def latent(self, n: int) -> tuple[Tensor, Tensor]:
        """``(z, c)``: generator input ``z = [ε, c]`` ``(n, noise_dim + code_dim)`` and code ``c``."""
        code = self.code.sample(n, self.device)
        noise = torch.randn(n, self.noise_dim, device=self.device)
        return torch.cat([noise, code], dim=1), code

    @override
    def _generate(self, n: int) -> Tensor:
        return self.generator(self.latent(n)[0])

    @torch.no_grad()
    def code_traversal(self, steps: int) -> Tensor:
        """Samples ``(code_dim, steps, *x_shape)``, one row per code dimension.

        Continuous dimension ``j``: ``c_j`` sweeps its range over the columns, noise and the rest of the
        code fixed. Categorical dimension ``j``: the group is set to category ``j`` in the whole row and the
        columns take ``steps`` noise draws shared by all rows (InfoGAN's figure layout).
        """
        check_positive("steps", steps)
        base_z, base_c = self.latent(1)
        noise = torch.randn(steps, self.noise_dim, device=self.device)
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
    def _mi_loss(self, fake: Tensor, code: Tensor, q_out: Tensor | None) -> Tensor:
        """The generator's MI term to minimize (minus the estimate, differentiable in ``fake``)."""
        if self.mi == "q":
            assert q_out is not None
            return -(self.code.entropy() + self.code.log_likelihood(q_out, code))
        estimator = self.estimator
        assert estimator is not None
        if self.mi_source == "shared":
            with frozen(estimator):  # the callback owns and trains it; the generator's step must not touch it
                return estimator.loss(fake, code, update_ema=False)
        return estimator.loss(fake, code, update_ema=False)

    @override
    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        optimizers = self.optimizers()
        opt_d, opt_g = optimizers[0], optimizers[1]
        real = self._real(batch)
        z, code = self.latent(real.shape[0])
        fake = self.generator(z)
        self.mi_pairs = {self.mi_pair_name: (fake.detach(), code)}
        logs: dict[str, Tensor] = {}

        # Discriminator (with mi="q", its code head ascends the same bound as the generator, Chen et al.).
        self.toggle_optimizer(opt_d)
        real_logits = self.discriminator(real)
        if self.mi == "q":
            fake_logits, q_out = self.discriminator.forward_with_code(fake.detach())
            q_mi = self.code.entropy() + self.code.log_likelihood(q_out, code)
            d_loss = discriminator_loss(real_logits, fake_logits, self.adversarial) - self.mi_weight * q_mi
            logs["mi"] = q_mi.detach()
        else:
            d_loss = discriminator_loss(real_logits, self.discriminator(fake.detach()), self.adversarial)
        self._step(opt_d, d_loss)
        self.untoggle_optimizer(opt_d)
        logs["d_loss"] = d_loss.detach()

        # MINE's statistics network T(x, c) ascends its bound on this batch; the same backward gives the
        # generator's g_m, since G ascends the same estimate.
        mi_loss: Tensor | None = None
        mi_grads: list[Tensor] | None = None
        if self.mine is not None:
            mi_loss = self.mine.loss(fake, code)
            mi_grads = self._step_critic(optimizers[2], mi_loss, self._params(opt_g))
            logs["mi"] = -mi_loss.detach()

        # Generator: adversarial loss and MI term from the same forward of the fake batch.
        self.toggle_optimizer(opt_g)
        q_out = None
        if self.mi == "q":
            fake_logits, q_out = self.discriminator.forward_with_code(fake)
        else:
            fake_logits = self.discriminator(fake)
        g_adv = generator_loss(fake_logits, self.adversarial)
        if mi_grads is None and self.mi_weight > 0:
            mi_loss = self._mi_loss(fake, code, q_out)
        norms = self._step_with_mi(opt_g, g_adv, mi_loss, self.mi_weight, self.clip, mi_grads=mi_grads)
        self.untoggle_optimizer(opt_g)
        logs["g_loss"] = (g_adv + self.mi_weight * mi_loss).detach() if mi_loss is not None else g_adv.detach()
        if mi_loss is not None and self.mi_source == "shared":
            logs["mi"] = -mi_loss.detach()
        logs.update(norms)
        self._log_train(logs)
        return {"mi_pairs": self.mi_pairs}

    @override
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        n = self._real(batch).shape[0]
        z, code = self.latent(n)
        fake = self.generator(z)
        if self.mode_coverage is not None:
            self.mode_coverage.update(fake)
        if self.mi == "q":
            _, q_out = self.discriminator.forward_with_code(fake)
            mi = self.code.entropy() + self.code.log_likelihood(q_out, code)
        elif self.estimator is not None and n > 1:
            mi = self.estimator(fake, code)
        else:
            return
        self.log("val/mi", mi, sync_dist=True)
