"""BiGAN/ALI + MINE: variants train, only the encoder gets the (clipped) MI gradient, bad shapes fail early."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mine_gan.data import Digits, GaussianMixture
from mine_gan.estimators import MINE, ConcatCritic
from mine_gan.models import BiGAN
from mine_gan.nets import DCGANDiscriminator, DCGANEncoder, DCGANGenerator, MLPDiscriminator, MLPEncoder, MLPGenerator
from mine_gan.nets.losses import generator_loss

LATENT = 3


def mlp_bigan(learn_std: bool = False, cls: type[BiGAN] = BiGAN, **kwargs) -> BiGAN:
    return cls(
        MLPGenerator(LATENT, 2, hidden_dims=(16,)),
        MLPEncoder(2, LATENT, hidden_dims=(16,), learn_std=learn_std),
        MLPDiscriminator(2, hidden_dims=(16,), latent_dim=LATENT),
        critic=ConcatCritic(2, LATENT, hidden_dims=(16,)),
        **kwargs,
    )


@pytest.mark.parametrize(("clip", "learn_std"), [("adaptive", False), (None, True)])
def test_variants_train_and_log(trainer_factory, flat_loader, clip, learn_std):
    model = mlp_bigan(learn_std, clip=clip)
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(model, flat_loader, flat_loader)
    metrics = trainer.callback_metrics
    for name in ["d_loss", "g_loss", "mi", "grad_norm_adv", "grad_norm_mi", "grad_norm_mi_clipped", "recon_error"]:
        assert torch.isfinite(metrics[f"train/{name}"])
    assert {"val/recon_error", "val/mi"} <= set(metrics)


class _FrozenBiGAN(BiGAN):
    """Every network on SGD(lr=0), the training step's z and E(x) recorded: what a step logs is a function of
    the networks as built."""

    def configure_optimizers(self):
        optimizers = [
            torch.optim.SGD(self.discriminator.parameters(), lr=0.0),
            torch.optim.SGD([*self.generator.parameters(), *self.encoder.parameters()], lr=0.0),
        ]
        if self.mine is not None:
            optimizers.append(torch.optim.SGD(self.mine.parameters(), lr=0.0))
        return optimizers

    def _noise(self, n, generator, per_process):
        noise = super()._noise(n, generator, per_process)
        self.__dict__.setdefault("first_noise", noise)  # the step's z (drawn before the encoder's noise)
        return noise

    def _encode(self, x, generator, per_process):
        z_enc = super()._encode(x, generator, per_process)
        self.__dict__.setdefault("first_encoding", z_enc.detach())
        return z_enc


def test_hinge_losses_are_the_hinge_formulas_of_the_joint_logits(trainer_factory, flat_loader):
    torch.manual_seed(0)
    model = mlp_bigan(cls=_FrozenBiGAN, adversarial="hinge")
    trainer = trainer_factory(max_epochs=1, limit_train_batches=1, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(model, flat_loader)
    x, z, z_enc = next(iter(flat_loader)), model.first_noise, model.first_encoding
    with torch.no_grad():
        real_logits, fake_logits = model.discriminator(x, z_enc), model.discriminator(model.generator(z), z)
    # D: max(0, 1 - D(x, E(x))) + max(0, 1 + D(G(z), z)); G and E flip the labels: -D(G(z), z) + D(x, E(x)).
    d_hinge = torch.clamp(1 - real_logits, min=0).mean() + torch.clamp(1 + fake_logits, min=0).mean()
    g_hinge = -fake_logits.mean() + real_logits.mean()
    torch.testing.assert_close(trainer.callback_metrics["train/d_loss"], d_hinge)
    torch.testing.assert_close(trainer.callback_metrics["train/g_loss"], g_hinge)
    non_saturating = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    assert abs(float(non_saturating - d_hinge)) > 1e-3  # the check tells the two losses apart


class _LinearJointDiscriminator(nn.Module):
    """``D(x, z) = a·x + b·z``: ``∇_x D = a`` and ``∇_z D = b`` everywhere. Records the points of the penalty
    (the only call whose inputs are leaves that require gradients)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Parameter(torch.tensor([1.0, -2.0])), nn.Parameter(torch.tensor([3.0, 0.5, -1.0]))
        self.penalty_points: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x, z):
        if x.is_leaf and x.requires_grad:
            self.penalty_points.append((x.detach(), z.detach()))
        return x @ self.a + z @ self.b


def _penalized_bigan(points: str, gamma: float) -> _FrozenBiGAN:
    torch.manual_seed(0)
    return _FrozenBiGAN(
        MLPGenerator(LATENT, 2, hidden_dims=(16,)),
        MLPEncoder(2, LATENT, hidden_dims=(16,)),
        _LinearJointDiscriminator(),
        critic=ConcatCritic(2, LATENT, hidden_dims=(16,)),
        d_penalty=gamma,
        d_penalty_points=points,
    )


@pytest.mark.parametrize("points", ["real", "interpolates"])
def test_d_penalty_is_r1_on_the_joint_input(trainer_factory, flat_loader, points):
    # (γ/2)·E[‖∇_x D‖² + ‖∇_z D‖²] = (γ/2)(‖a‖² + ‖b‖²) for the linear D, at any points; ∇_x alone gives ‖a‖².
    gamma = 4.0
    model = _penalized_bigan(points, gamma)
    trainer = trainer_factory(max_epochs=1, limit_train_batches=1, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(model, flat_loader)
    x, z, z_enc = next(iter(flat_loader)), model.first_noise, model.first_encoding
    d = model.discriminator
    with torch.no_grad():
        adversarial = F.softplus(-d(x, z_enc)).mean() + F.softplus(d(model.generator(z), z)).mean()
    penalty = gamma / 2 * (d.a.pow(2).sum() + d.b.pow(2).sum()).detach()
    torch.testing.assert_close(trainer.callback_metrics["train/d_loss"], adversarial + penalty)


def test_d_penalty_interpolates_mix_whole_pairs_with_one_weight(trainer_factory, flat_loader):
    model = _penalized_bigan("interpolates", 1.0)
    trainer_factory(max_epochs=1, limit_train_batches=1, limit_val_batches=0).fit(model, flat_loader)
    x, z, z_enc = next(iter(flat_loader)), model.first_noise, model.first_encoding
    with torch.no_grad():
        fake = model.generator(z)  # no batch norm, networks frozen: the step's G(z)
    ((x_hat, z_hat),) = model.discriminator.penalty_points
    # u of each row read off the x part; the z part must be the same mix of (E(x), z).
    u = ((x_hat - fake) * (x - fake)).sum(1) / (x - fake).pow(2).sum(1)
    assert bool(((u > 0) & (u < 1)).all()) and u.std() > 0.1  # drawn per row, not the real or fake pairs
    torch.testing.assert_close(x_hat, u[:, None] * x + (1 - u[:, None]) * fake)
    torch.testing.assert_close(z_hat, u[:, None] * z_enc + (1 - u[:, None]) * z)


def test_mi_weight_zero_trains_plain_ali(trainer_factory, flat_loader):
    torch.manual_seed(0)
    model = mlp_bigan(cls=_SGDBiGAN, mi_weight=0.0)
    assert model.mine is None  # plain ALI pays for no critic
    gen_before = [p.detach().clone() for p in model.generator.parameters()]
    enc_before = [p.detach().clone() for p in model.encoder.parameters()]
    seen = {}
    model.generator.register_forward_hook(lambda m, inputs, out: None if "z" in seen else seen.update(z=inputs[0]))
    trainer = trainer_factory(max_epochs=1, limit_train_batches=1, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(model, flat_loader)
    assert len(trainer.optimizers) == 2
    assert "train/mi" not in trainer.callback_metrics
    assert float(trainer.callback_metrics["train/grad_norm_mi_clipped"]) == 0.0
    # Generator and encoder stepped on the adversarial gradient alone (SGD, lr=1; D frozen).
    gen, enc = MLPGenerator(LATENT, 2, hidden_dims=(16,)), MLPEncoder(2, LATENT, hidden_dims=(16,))
    with torch.no_grad():
        for p, b in zip([*gen.parameters(), *enc.parameters()], gen_before + enc_before, strict=True):
            p.copy_(b)
    x = next(iter(flat_loader))
    mean, log_std = enc(x)
    z_enc = mean + log_std.exp() * torch.randn(mean.shape, generator=torch.Generator().set_state(model.state))
    adv = generator_loss(model.discriminator(gen(seen["z"]), seen["z"])) + generator_loss(
        -model.discriminator(x, z_enc)
    )
    grads = torch.autograd.grad(adv, [*gen.parameters(), *enc.parameters()])
    after = [*model.generator.parameters(), *model.encoder.parameters()]
    for p, b, g in zip(after, gen_before + enc_before, grads, strict=True):
        torch.testing.assert_close(p.detach() - b, -g, rtol=1e-4, atol=1e-6)


def _snapshot(*modules: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


def _moved(module: nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(p, b) for p, b in zip(module.parameters(), before, strict=True))


def _reconstruction_error(model: BiGAN, x: torch.Tensor) -> torch.Tensor:
    """Mean ‖x − G(μ(x))‖₂, networks in eval mode, written out here."""
    model.eval()
    with torch.no_grad():
        return (x - model.generator(model.encoder(x)[0])).flatten(1).norm(dim=1).mean()


def test_fits_the_gaussian_mixture_and_logs_what_its_networks_do(trainer_factory):
    torch.manual_seed(0)
    # std 0.5: every point near the grid is within 3σ of a centre, so the mode counts are not all zero.
    dm = GaussianMixture(std=0.5, num_samples=64, batch_size=32, num_val_samples=64)
    model = mlp_bigan()
    networks = ("generator", "encoder", "discriminator", "mine")
    before = {name: _snapshot(getattr(model, name)) for name in networks}
    calls = []  # (input, output) of the generator in validation
    model.generator.register_forward_hook(
        lambda m, inputs, out: calls.append((inputs[0], out.detach())) if model.trainer.validating else None
    )
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(model, dm)
    logged = trainer.callback_metrics
    assert all(_moved(getattr(model, name), before[name]) for name in networks)  # G, E, D and T all trained
    assert all(torch.isfinite(logged[f"train/{k}"]) for k in ("d_loss", "g_loss", "mi", "recon_error"))
    # Validation ran after the last step: the logged error is that of the final networks on the first val batch.
    x_val = next(iter(dm.val_dataloader()))
    torch.testing.assert_close(logged["val/recon_error"], _reconstruction_error(model, x_val))
    # Mode coverage by PacGAN's rule, on the generator's validation outputs from noise (not G(μ(x))).
    with torch.no_grad():
        mu = model.encoder(x_val)[0]
    (samples,) = [out for z, out in calls if not torch.equal(z, mu)]
    distance, nearest = torch.cdist(samples, dm.centers).min(dim=1)
    counts = torch.bincount(nearest[distance <= 3 * dm.std], minlength=len(dm.centers))
    assert float(logged["val/modes"]) == int((counts > 0).sum()) > 0
    assert float(logged["val/high_quality"]) == pytest.approx(float(counts.sum() / samples.shape[0]))


def test_fits_digits_with_conv_nets(trainer_factory):
    torch.manual_seed(0)
    model = BiGAN(
        DCGANGenerator(LATENT, 1, 16, base_channels=4),
        DCGANEncoder(1, 16, latent_dim=LATENT, base_channels=4),
        DCGANDiscriminator(1, 16, base_channels=4, hidden_dim=16, latent_dim=LATENT),
    )
    networks = ("generator", "encoder", "discriminator", "mine")
    before = {name: _snapshot(getattr(model, name)) for name in networks}
    dm = Digits(image_size=16, batch_size=8)
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(model, dm)
    assert all(_moved(getattr(model, name), before[name]) for name in networks)
    logged = trainer.callback_metrics
    assert all(torch.isfinite(logged[f"train/{k}"]) for k in ("d_loss", "g_loss", "mi", "recon_error"))
    x_val, _ = next(iter(dm.val_dataloader()))
    torch.testing.assert_close(logged["val/recon_error"], _reconstruction_error(model, x_val))
    samples = model.sample(2, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (2, 1, 16, 16) and samples.min() >= -1 and samples.max() <= 1
    assert model.noise_dim == LATENT


class _SGDBiGAN(BiGAN):
    """Generator and encoder on SGD(lr=1), D and T frozen, the step's noise recorded."""

    def configure_optimizers(self):
        optimizers = [
            torch.optim.SGD(self.discriminator.parameters(), lr=0.0),
            torch.optim.SGD([{"params": self.generator.parameters()}, {"params": self.encoder.parameters()}], lr=1.0),
        ]
        if self.mine is not None:
            optimizers.append(torch.optim.SGD(self.mine.parameters(), lr=0.0))
        return optimizers

    def _encode(self, x, generator, per_process):
        if not hasattr(self, "state"):  # the training step's encoder noise: recorded before it is drawn
            self.state = generator.get_state()
        return super()._encode(x, generator, per_process)


def test_update_adds_clipped_mi_gradient_to_the_encoder_only(trainer_factory, flat_loader):
    torch.manual_seed(0)
    beta = 2.0
    model = _SGDBiGAN(
        MLPGenerator(LATENT, 2, hidden_dims=(16,)),
        MLPEncoder(2, LATENT, hidden_dims=(16,)),
        MLPDiscriminator(2, hidden_dims=(16,), latent_dim=LATENT),
        critic=ConcatCritic(2, LATENT, hidden_dims=(16,)),
        mi_weight=beta,
    )
    model.mine = MINE(model.mine.critic, marginal="all_pairs")  # deterministic marginal for the reference
    mine_before = copy.deepcopy(model.mine)  # g_m uses the critic before its step (one shared backward)
    seen = {}
    model.generator.register_forward_hook(lambda m, inputs, out: None if "z" in seen else seen.update(z=inputs[0]))
    gen_before = [p.detach().clone() for p in model.generator.parameters()]
    enc_before = [p.detach().clone() for p in model.encoder.parameters()]
    x = next(iter(flat_loader))
    trainer_factory(max_steps=1, limit_val_batches=0).fit(model, flat_loader)

    gen, enc = MLPGenerator(LATENT, 2, hidden_dims=(16,)), MLPEncoder(2, LATENT, hidden_dims=(16,))
    with torch.no_grad():
        for p, b in zip([*gen.parameters(), *enc.parameters()], gen_before + enc_before, strict=True):
            p.copy_(b)
    mean, log_std = enc(x)
    noise = torch.randn(mean.shape, generator=torch.Generator().set_state(model.state))
    z_enc = mean + log_std.exp() * noise
    z = seen["z"]
    adv = generator_loss(model.discriminator(gen(z), z)) + generator_loss(-model.discriminator(x, z_enc))
    mi_loss = mine_before.loss(x, z_enc)
    g_u_gen = torch.autograd.grad(adv, list(gen.parameters()), retain_graph=True)
    g_u_enc = torch.autograd.grad(adv, list(enc.parameters()), retain_graph=True)
    g_m_enc = torch.autograd.grad(mi_loss, list(enc.parameters()))
    norm_u = torch.cat([g.flatten() for g in g_u_enc]).norm()
    norm_m = torch.cat([g.flatten() for g in g_m_enc]).norm()
    scale = torch.minimum(norm_u, norm_m) / norm_m
    for p, b, g in zip(model.generator.parameters(), gen_before, g_u_gen, strict=True):
        torch.testing.assert_close(p.detach() - b, -g, rtol=1e-4, atol=1e-6)
    for p, b, gu, gm in zip(model.encoder.parameters(), enc_before, g_u_enc, g_m_enc, strict=True):
        torch.testing.assert_close(p.detach() - b, -(gu + beta * scale * gm), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: BiGAN(MLPGenerator(3, 2), MLPEncoder(2, 4), MLPDiscriminator(2, latent_dim=3)),
            r"agree on the latent dimension.*'generator.latent_dim': 3, 'encoder.latent_dim': 4",
        ),
        (
            lambda: BiGAN(MLPGenerator(3, 2), MLPEncoder(5, 3), MLPDiscriminator(2, latent_dim=3)),
            r"encoder takes x of shape \(5,\), but the generator produces \(2,\)",
        ),
        (lambda: mlp_bigan(adversarial="wgan"), r"`adversarial` must be one of \['non_saturating', 'hinge'\]"),
    ],
)
def test_bad_configuration_fails_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_datamodule_of_another_shape_fails_before_training(trainer_factory):
    with pytest.raises(ValueError, match=r"dims=\(1, 16, 16\).*x_shape=\(2,\)"):
        trainer_factory(fast_dev_run=True).fit(mlp_bigan(), Digits(image_size=16, batch_size=8))
