"""BiGAN/ALI + MINE: variants train, only the encoder gets the (clipped) MI gradient, bad shapes fail early."""

from __future__ import annotations

import copy

import pytest
import torch

from mine_gan.data import Digits, GaussianMixture
from mine_gan.estimators import MINE, ConcatCritic
from mine_gan.models import BiGAN
from mine_gan.nets import DCGANDiscriminator, DCGANEncoder, DCGANGenerator, MLPDiscriminator, MLPEncoder, MLPGenerator
from mine_gan.nets.losses import generator_loss

LATENT = 3


def mlp_bigan(learn_std: bool = False, **kwargs) -> BiGAN:
    return BiGAN(
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


@pytest.mark.parametrize("kwargs", [{"mi_weight": 0.0}, {"adversarial": "hinge"}])
def test_other_options_train(trainer_factory, flat_loader, kwargs):
    model = mlp_bigan(**kwargs)
    trainer_factory(fast_dev_run=True).fit(model, flat_loader)
    assert (model.mine is None) == (kwargs.get("mi_weight") == 0)


def test_fits_the_gaussian_mixture(trainer_factory):
    dm = GaussianMixture(num_samples=64, batch_size=32, num_val_samples=64)
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(mlp_bigan(), dm)
    assert {"val/modes", "val/high_quality", "val/kl", "val/recon_error"} <= set(trainer.callback_metrics)


def test_fits_digits_with_conv_nets(trainer_factory):
    model = BiGAN(
        DCGANGenerator(LATENT, 1, 16, base_channels=4),
        DCGANEncoder(1, 16, latent_dim=LATENT, base_channels=4),
        DCGANDiscriminator(1, 16, base_channels=4, hidden_dim=16, latent_dim=LATENT),
    )
    trainer_factory(fast_dev_run=True).fit(model, Digits(image_size=16, batch_size=8))
    assert model.sample(2).shape == (2, 1, 16, 16) and model.noise_dim == LATENT


class _SGDBiGAN(BiGAN):
    """Generator and encoder on SGD(lr=1), D and T frozen, the step's noise recorded."""

    def configure_optimizers(self):
        optimizers = [
            torch.optim.SGD(self.discriminator.parameters(), lr=0.0),
            torch.optim.SGD([{"params": self.generator.parameters()}, {"params": self.encoder.parameters()}], lr=1.0),
            torch.optim.SGD(self.mine.parameters(), lr=0.0),
        ]
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
