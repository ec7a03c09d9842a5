"""Train S seeds of one GAN configuration as one batched model (MINE, Belghazi et al., ICML 2018, §5.1).

Every network exists once per seed, its parameters stacked along a leading seed axis
(:class:`~mine_gan.batched.stacked.StackedModule`); one ``vmap``-ed forward evaluates all seeds, and the
sum of the per-seed losses has each seed's gradient in its slice because the seeds share nothing. Adam is
elementwise, so one Adam over the stacked tensors is S independent Adams; the only step that mixes a
seed's parameters, the adaptive clip of eq. 21, is ``vmap``-ed per seed. Each seed draws its data, latents,
permutations and interpolation weights from its own ``torch.Generator`` and initializes its networks from
its own seed, so a seed trains to the same result alone or among others (up to float rounding of the
batched matrix products).

One iteration mirrors :class:`mine_gan.models.InfoGAN`'s training step: ``d_steps`` discriminator steps
(the last one on the fake batch the generator then uses), one step of MINE's statistics network ``T`` whose
backward also gives the generator's MI gradient ``g_m``, and one generator step on ``g_u + β g_a``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

import torch
from torch import Tensor
from torch.func import vmap

from mine_gan import functional as MF
from mine_gan.batched.config import GANConfig
from mine_gan.batched.stacked import StackedModule
from mine_gan.estimators import ConcatCritic
from mine_gan.estimators.mine import critic_objective
from mine_gan.nets import MLPDiscriminator, MLPGenerator
from mine_gan.nets.codes import LatentCode
from mine_gan.nets.losses import discriminator_loss, generator_loss, gradient_penalty

__all__ = ["BatchedGANTrainer", "Sampler"]

#: offset of the evaluation streams: samples drawn after training never reuse a training draw
_EVAL_STREAM_OFFSET = 1_000_003


class Sampler(Protocol):
    """Data with a per-call random stream, e.g. :class:`mine_gan.data.GaussianMixture`."""

    dims: tuple[int, ...]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


def _bound(config: GANConfig, t_joint: Tensor, t_marginal: Tensor, log_ema: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One seed's critic loss, reported estimate and updated ``log m_t``, from the one definition per bound."""
    objective, reported, new_log_ema = critic_objective(
        config.mi_bound, t_joint, t_marginal, log_ema, config.mi_ema_decay, config.smile_tau
    )
    return -objective, reported, new_log_ema


def _flat_critic(stacked: StackedModule, num: int, batch: int) -> Callable[..., Tensor]:
    """``f(x, *context)`` on seed-major flat inputs ``(S·N, ...)``, the form :func:`gradient_penalty` takes."""

    def critic(x: Tensor, *context: Tensor) -> Tensor:
        unflat = [t.reshape(num, batch, *t.shape[1:]) for t in (x, *context)]
        return stacked(*unflat).reshape(-1)

    return critic


class BatchedGANTrainer:
    r"""S seeds of one :class:`GANConfig` on 2-D data, trained in lockstep as one batched model.

    The generator of seed ``s`` minimizes

    .. math:: \mathcal{L}_{adv}(G_s) - \beta\, \hat I_s, \qquad \text{stepping on } g_u + \beta g_a,\;
              g_a = \min(\|g_u\|, \|g_m\|)\, g_m / \|g_m\| \text{ (eq. 21, per seed)}

    with :math:`\hat I_s` MINE's estimate (``mi="mine"``) or InfoGAN's bound :math:`H(c) + \mathbb{E}\log Q(c|x)`
    (``mi="q"``). Networks: :class:`~mine_gan.nets.MLPGenerator`, :class:`~mine_gan.nets.MLPDiscriminator`
    (with the code head for ``Q``), :class:`~mine_gan.estimators.ConcatCritic` for ``T``.

    Args:
        config: the configuration, shared by all seeds.
        data: what real batches are drawn from (``sample(n, generator)``, ``dims``).
        seeds: one run per seed; seed ``s`` initializes its networks with ``torch.manual_seed(s)`` and
            draws everything else from ``torch.Generator().manual_seed(s)``.

    Attributes:
        history: per-iteration ``(S,)`` tensors: ``d_loss``, ``g_loss`` (adversarial) and ``mi`` (the
            reported MI estimate, NaN without MI term).
        seconds: wall time spent in :meth:`train`.

    Example:
        >>> from mine_gan.data import GaussianMixture
        >>> cfg = GANConfig(noise_dim=2, hidden_dims=(16,), batch_size=32, iterations=3)
        >>> trainer = BatchedGANTrainer(cfg, GaussianMixture(), seeds=[0, 1])
        >>> trainer.train()
        >>> trainer.sample(5).shape, torch.stack(trainer.history["mi"]).shape
        (torch.Size([2, 5, 2]), torch.Size([3, 2]))
    """

    def __init__(self, config: GANConfig, data: Sampler, seeds: Sequence[int]) -> None:
        seeds = [int(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"`seeds` must be distinct and non-empty, got {seeds}")
        dims = tuple(getattr(data, "dims", ()))
        if len(dims) != 1:
            raise ValueError(f"`data` must have flat samples, `dims == (D,)`; got dims={dims}")
        self.config, self.data, self.seeds = config, data, seeds
        self.num = len(seeds)
        self.x_dim = dims[0]
        self.code = LatentCode(config.categorical_dims, config.continuous_dim, config.continuous)
        target_dim = config.code_dim if config.mi_target == "code" else config.latent_dim

        generators, discriminators, critics = [], [], []
        for seed in seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                generators.append(MLPGenerator(config.latent_dim, self.x_dim, config.hidden_dims))
                discriminators.append(
                    MLPDiscriminator(self.x_dim, config.hidden_dims, code_dim=config.code_dim if config.uses_q else 0)
                )
                if config.uses_critic:
                    critics.append(ConcatCritic(self.x_dim, target_dim, config.hidden_dims))
        self.generator = StackedModule(generators)
        self.discriminator = StackedModule(discriminators)
        self.critic = StackedModule(critics) if critics else None
        self.streams = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.dtype = self.generator.parameters()[0].dtype

        betas = config.betas
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas, foreach=True)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas, foreach=True)
        self.optimizers = [self.opt_g, self.opt_d]
        if self.critic is not None:
            self.opt_t = torch.optim.Adam(self.critic.parameters(), lr=config.lr_mi, betas=betas, foreach=True)
            self.optimizers.append(self.opt_t)
        total = config.iterations
        decay = (lambda it: max(0.0, 1.0 - it / total)) if config.lr_decay == "linear" else (lambda it: 1.0)
        self.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in self.optimizers]

        # Per-seed maps of the package's scalar losses: each sees one seed's (N,) slice.
        self._d_loss = vmap(partial(discriminator_loss, kind=config.adversarial))
        self._g_loss = vmap(partial(generator_loss, kind=config.adversarial))
        self._bound = vmap(partial(_bound, config))
        self._clip = vmap(MF.adaptive_clip)
        self._q_bound = vmap(lambda q_out, code: self.code.entropy() + self.code.log_likelihood(q_out, code))
        self.log_ema = torch.full((self.num,), -math.inf, dtype=self.dtype)
        self.history: dict[str, list[Tensor]] = {"d_loss": [], "g_loss": [], "mi": []}
        self.iteration = 0
        self.seconds = 0.0

    # ----------------------------------------------------------------- draws (each seed from its own stream)
    def _real(self, n: int) -> Tensor:
        return torch.stack([self.data.sample(n, generator=g) for g in self.streams]).to(self.dtype)

    def _latent(self, n: int, streams: Sequence[torch.Generator]) -> tuple[Tensor, Tensor]:
        """``z = [ε, c]`` and ``c``, ``(S, n, ·)`` each, drawn in :meth:`mine_gan.models.InfoGAN.latent`'s order."""
        zs, codes = [], []
        for g in streams:
            code = self.code.sample(n, generator=g).to(self.dtype)
            noise = torch.randn(n, self.config.noise_dim, generator=g, dtype=self.dtype)
            zs.append(torch.cat([noise, code], dim=1))
            codes.append(code)
        return torch.stack(zs), torch.stack(codes)

    def _permuted(self, t: Tensor) -> Tensor:
        """``t`` ``(S, N, ·)`` with each seed's rows shuffled: samples of the product of marginals."""
        perm = torch.stack([torch.randperm(t.shape[1], generator=g) for g in self.streams])
        return torch.gather(t, 1, perm.unsqueeze(-1).expand_as(t))

    # ----------------------------------------------------------------- steps
    @staticmethod
    def _apply(optimizer: torch.optim.Optimizer, params: list[Tensor], grads: Sequence[Tensor]) -> None:
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        optimizer.step()

    def _penalty(self, stacked: StackedModule, x: Tensor, *context: Tensor) -> Tensor:
        r""":math:`\sum_s` of each seed's zero-centred penalty at the points ``x`` ``(S, N, ·)``."""
        n, batch = x.shape[0], x.shape[1]
        flat = [t.reshape(n * batch, *t.shape[2:]) for t in (x, *context)]
        # gradient_penalty averages over all S·N points; the seeds' sum is S times that.
        return n * gradient_penalty(_flat_critic(stacked, n, batch), flat[0], *flat[1:])

    def _discriminator_step(self, real: Tensor, fake: Tensor, code: Tensor) -> Tensor:
        cfg = self.config
        params = self.discriminator.parameters()
        real_logits = self.discriminator(real)
        if cfg.uses_q:
            fake_logits, q_out = self.discriminator(fake, method="forward_with_code")
            # Q shares D's body and ascends the same bound as the generator (Chen et al. 2016).
            per_seed = self._d_loss(real_logits, fake_logits) - cfg.mi_weight * self._q_bound(q_out, code)
        else:
            per_seed = self._d_loss(real_logits, self.discriminator(fake))
        loss = per_seed.sum()
        if cfg.d_penalty > 0:
            if cfg.d_penalty_points == "real":
                points = real
            else:
                # Interpolation weights from each seed's own stream (gradient_penalty's single generator
                # would tie the seeds together), then the penalty at those points.
                u = torch.stack([torch.rand(real.shape[1], 1, generator=g, dtype=self.dtype) for g in self.streams])
                points = u * real + (1 - u) * fake
            loss = loss + cfg.d_penalty / 2 * self._penalty(self.discriminator, points)
        self._apply(self.opt_d, params, torch.autograd.grad(loss, params))
        return per_seed.detach()

    def _critic_step(self, fake: Tensor, target: Tensor) -> tuple[list[Tensor], Tensor]:
        """Step ``T`` on its bound; return the generator's ``g_m`` from the same backward and the estimate."""
        assert self.critic is not None
        cfg = self.config
        batch = fake.shape[1]
        scores = self.critic(torch.cat([fake, fake], dim=1), torch.cat([target, self._permuted(target)], dim=1))
        losses, reported, new_log_ema = self._bound(scores[:, :batch], scores[:, batch:], self.log_ema)
        loss = losses.sum()
        if cfg.mi_penalty > 0:
            loss = loss + cfg.mi_penalty / 2 * self._penalty(self.critic, fake.detach(), target)
        t_params, g_params = self.critic.parameters(), self.generator.parameters()
        grads = torch.autograd.grad(loss, t_params + g_params, retain_graph=True)
        self._apply(self.opt_t, t_params, grads[: len(t_params)])
        self.log_ema = new_log_ema.detach()
        return list(grads[len(t_params) :]), reported

    def _generator_step(self, fake: Tensor, z: Tensor, code: Tensor) -> tuple[Tensor, Tensor]:
        cfg = self.config
        params = self.generator.parameters()
        g_m: list[Tensor] | None = None
        mi = torch.full((self.num,), math.nan, dtype=self.dtype)
        if cfg.uses_critic:
            g_m, mi = self._critic_step(fake, code if cfg.mi_target == "code" else z)
        if cfg.uses_q:
            fake_logits, q_out = self.discriminator(fake, method="forward_with_code")
            q_mi = self._q_bound(q_out, code)
            adv = self._g_loss(fake_logits)
            g_u = list(torch.autograd.grad(adv.sum(), params, retain_graph=True))
            g_m = list(torch.autograd.grad(-q_mi.sum(), params))
            mi = q_mi.detach()
        else:
            adv = self._g_loss(self.discriminator(fake))
            g_u = list(torch.autograd.grad(adv.sum(), params))
        if g_m is None:
            grads = g_u
        else:
            g_a = self._clip(g_u, g_m) if cfg.clip == "adaptive" else g_m
            grads = [u + cfg.mi_weight * a for u, a in zip(g_u, g_a, strict=True)]
        self._apply(self.opt_g, params, grads)
        return adv.detach(), mi

    def step(self) -> None:
        """One iteration: ``d_steps`` discriminator steps, then ``T`` and the generator on the last fake batch."""
        cfg = self.config
        for k in range(cfg.d_steps):
            real = self._real(cfg.batch_size)
            z, code = self._latent(cfg.batch_size, self.streams)
            last = k == cfg.d_steps - 1
            with torch.set_grad_enabled(last):
                fake = self.generator(z)
            d_loss = self._discriminator_step(real, fake.detach(), code)
        g_loss, mi = self._generator_step(fake, z, code)
        for scheduler in self.schedulers:
            scheduler.step()
        self.iteration += 1
        self.history["d_loss"].append(d_loss)
        self.history["g_loss"].append(g_loss)
        self.history["mi"].append(mi)

    def train(self, iterations: int | None = None) -> None:
        """Run ``iterations`` steps (default: the rest of ``config.iterations``)."""
        todo = self.config.iterations - self.iteration if iterations is None else iterations
        start = time.perf_counter()
        for _ in range(todo):
            self.step()
        self.seconds += time.perf_counter() - start

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """``n`` samples of every seed's generator, ``(S, n, x_dim)``, from per-seed evaluation streams.

        The streams restart at each call, so the same parameters give the same samples.
        """
        streams = [torch.Generator().manual_seed(_EVAL_STREAM_OFFSET + s) for s in self.seeds]
        return self.generator(self._latent(n, streams)[0])
