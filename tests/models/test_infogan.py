"""InfoGAN: every variant trains, the generator's update is g_u + β g_a, and bad configurations fail early."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from _subprocess_ranks import run_ranks
from torch import nn

from mine_gan.data import Digits, GaussianMixture
from mine_gan.estimators import MINE, ConcatCritic
from mine_gan.models import InfoGAN
from mine_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from mine_gan.nets.losses import generator_loss

NOISE, CATS, CONT = 3, [3], 2
CODE = sum(CATS) + CONT
LOGGED = [
    "train/d_loss",
    "train/g_loss",
    "train/mi",
    "train/grad_norm_adv",
    "train/grad_norm_mi",
    "train/grad_norm_mi_clipped",
]


def mlp_infogan(**kwargs) -> InfoGAN:
    options = dict(noise_dim=NOISE, categorical_dims=CATS, continuous_dim=CONT)
    options.update(kwargs)
    return InfoGAN(
        MLPGenerator(NOISE + CODE, 2, hidden_dims=(16,)),
        MLPDiscriminator(2, hidden_dims=(16,), code_dim=CODE),
        critic=ConcatCritic(2, CODE, hidden_dims=(16,)) if options.get("mi", "mine") == "mine" else None,
        **options,
    )


def conv_infogan(size: int = 16, **kwargs) -> InfoGAN:
    return InfoGAN(
        DCGANGenerator(NOISE + CODE, 1, size, base_channels=4),
        DCGANDiscriminator(1, size, base_channels=4, hidden_dim=16, code_dim=CODE),
        noise_dim=NOISE,
        categorical_dims=CATS,
        continuous_dim=CONT,
        **kwargs,
    )


@pytest.mark.parametrize("clip", ["adaptive", None])
@pytest.mark.parametrize("mi", ["mine", "q"])
def test_variants_train_and_log(trainer_factory, flat_loader, mi, clip):
    model = mlp_infogan(mi=mi, clip=clip)
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(model, flat_loader, flat_loader)
    assert set(LOGGED + ["val/mi"]) <= set(trainer.callback_metrics)
    assert all(torch.isfinite(trainer.callback_metrics[k]) for k in LOGGED)
    assert trainer.callback_metrics["train/grad_norm_mi"] > 0
    if clip == "adaptive":
        m = trainer.callback_metrics
        assert (
            m["train/grad_norm_mi_clipped"] <= torch.minimum(m["train/grad_norm_adv"], m["train/grad_norm_mi"]) + 1e-6
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"adversarial": "hinge"},
        {"mi_weight": 0.0},
        {"continuous": "gaussian", "mi_bound": "nwj"},
    ],
)
def test_other_options_train(trainer_factory, flat_loader, kwargs):
    model = mlp_infogan(**kwargs)
    trainer_factory(fast_dev_run=True).fit(model, flat_loader)
    if kwargs.get("mi_weight") == 0:
        assert model.mine is None  # a plain GAN pays for no critic


def test_fits_the_gaussian_mixture_and_logs_mode_metrics(trainer_factory):
    dm = GaussianMixture(num_samples=64, batch_size=32, num_val_samples=64)
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(mlp_infogan(), dm)
    assert {"val/modes", "val/high_quality", "val/kl"} <= set(trainer.callback_metrics)


@pytest.mark.parametrize("mi", ["mine", "q"])
def test_fits_digits_with_conv_nets(trainer_factory, mi):
    dm = Digits(image_size=16, batch_size=8)
    trainer_factory(fast_dev_run=True).fit(conv_infogan(mi=mi), dm)


def test_sample_and_code_traversal_shapes():
    model = conv_infogan(28)
    assert model.sample(5).shape == (5, 1, 28, 28)
    traversal = model.code_traversal(4)
    assert traversal.shape == (CODE, 4, 1, 28, 28)
    assert model.training  # sampling restores the mode it found


def test_code_traversal_varies_one_code_dimension_per_row():
    model = mlp_infogan()
    seen: list[torch.Tensor] = []
    model.generator.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0]))
    model.code_traversal(5)
    z = seen[0].view(CODE, 5, NOISE + CODE)
    codes = z[..., NOISE:]
    # Categorical rows: one-hot of their own category in every column.
    for j in range(CATS[0]):
        torch.testing.assert_close(codes[j, :, : CATS[0]].argmax(dim=1), torch.full((5,), j))
    # Continuous rows: their dimension sweeps [-1, 1], noise and the other dimensions stay fixed.
    for j in range(CONT):
        row = CATS[0] + j
        torch.testing.assert_close(codes[row, :, CATS[0] + j], torch.linspace(-1, 1, 5))
        assert (z[row, :, :NOISE] == z[row, :1, :NOISE]).all()


class _SGDInfoGAN(InfoGAN):
    """Generator on SGD(lr=1) so its update is minus its gradient; D and T frozen (lr=0) so that the
    reference below sees the networks the generator's step saw."""

    def configure_optimizers(self):
        optimizers = [
            torch.optim.SGD(self.discriminator.parameters(), lr=0.0),
            torch.optim.SGD(self.generator.parameters(), lr=1.0),
        ]
        if self.mine is not None:
            optimizers.append(torch.optim.SGD(self.mine.parameters(), lr=0.0))
        return optimizers

    def _latent(self, n, generator, code=None, *, per_process=True):
        self.last_latent = super()._latent(n, generator, code, per_process=per_process)
        return self.last_latent


@pytest.mark.parametrize(("mi", "clip"), [("mine", "adaptive"), ("mine", None), ("q", "adaptive")])
def test_generator_update_is_adv_gradient_plus_clipped_mi_gradient(trainer_factory, flat_loader, mi, clip):
    torch.manual_seed(0)
    beta = 3.0
    model = _SGDInfoGAN(
        MLPGenerator(NOISE + CODE, 2, hidden_dims=(16,)),
        MLPDiscriminator(2, hidden_dims=(16,), code_dim=CODE),
        noise_dim=NOISE,
        categorical_dims=CATS,
        continuous_dim=CONT,
        mi=mi,
        clip=clip,
        mi_weight=beta,
        critic=ConcatCritic(2, CODE, hidden_dims=(16,)),
    )
    if model.mine is not None:  # all pairs: no random shuffle, so the reference sees the same marginal
        model.mine = MINE(model.mine.critic, marginal="all_pairs")
    # g_m comes from the critic as it was before its own step in the same iteration (one shared backward).
    mine_before = copy.deepcopy(model.mine)
    before = [p.detach().clone() for p in model.generator.parameters()]
    trainer_factory(max_steps=1, limit_val_batches=0).fit(model, flat_loader)
    delta = [p.detach() - b for p, b in zip(model.generator.parameters(), before, strict=True)]

    reference = MLPGenerator(NOISE + CODE, 2, hidden_dims=(16,))
    with torch.no_grad():
        for p, b in zip(reference.parameters(), before, strict=True):
            p.copy_(b)
    z, code = model.last_latent
    fake = reference(z)
    params = list(reference.parameters())
    if mi == "q":
        logits, q_out = model.discriminator.forward_with_code(fake)
        mi_loss = -(model.code.entropy() + model.code.log_likelihood(q_out, code))
    else:
        logits = model.discriminator(fake)
        mi_loss = mine_before.loss(fake, code)
    g_u = torch.autograd.grad(generator_loss(logits), params, retain_graph=True)
    g_m = torch.autograd.grad(mi_loss, params)
    norm_u = torch.cat([g.flatten() for g in g_u]).norm()
    norm_m = torch.cat([g.flatten() for g in g_m]).norm()
    scale = torch.minimum(norm_u, norm_m) / norm_m if clip == "adaptive" else torch.tensor(1.0)
    for d, gu, gm in zip(delta, g_u, g_m, strict=True):
        torch.testing.assert_close(d, -(gu + beta * scale * gm), rtol=1e-4, atol=1e-6)


class _SGDCriticInfoGAN(_SGDInfoGAN):
    """Only MINE's critic moves (SGD, lr=1): its update is minus the gradient of its own loss."""

    def configure_optimizers(self):
        return [
            torch.optim.SGD(self.discriminator.parameters(), lr=0.0),
            torch.optim.SGD(self.generator.parameters(), lr=0.0),
            torch.optim.SGD(self.mine.parameters(), lr=1.0),
        ]


def test_critic_update_is_the_gradient_of_its_bound_on_the_fake_batch(trainer_factory, flat_loader):
    torch.manual_seed(0)
    model = _SGDCriticInfoGAN(
        MLPGenerator(NOISE + CODE, 2, hidden_dims=(16,)),
        MLPDiscriminator(2, hidden_dims=(16,)),
        noise_dim=NOISE,
        categorical_dims=CATS,
        continuous_dim=CONT,
        critic=ConcatCritic(2, CODE, hidden_dims=(16,)),
    )
    model.mine = MINE(model.mine.critic, marginal="all_pairs")
    reference = copy.deepcopy(model.mine)
    trainer_factory(max_steps=1, limit_val_batches=0).fit(model, flat_loader)

    z, code = model.last_latent
    loss = reference.loss(model.generator(z).detach(), code)  # G did not move (lr=0): the same fake batch
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    for p, b, g in zip(model.mine.parameters(), reference.parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), b.detach() - g, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(model.mine.log_ema, reference.log_ema)  # the EMA moved once, as in the reference


class _Provider(pl.Callback):
    """Stands for the shared-estimator callback: owns a MINE and hands it out by name."""

    def __init__(self, estimator: MINE) -> None:
        self.estimator = estimator

    def shared_estimator(self, name: str) -> MINE | None:
        return self.estimator if name == "code" else None


def test_shared_estimator_is_used_for_the_generator_but_not_trained(trainer_factory, flat_loader):
    estimator = MINE(ConcatCritic(2, CODE, hidden_dims=(16,)))
    estimator.log_ema.fill_(0.0)
    critic_before = [p.detach().clone() for p in estimator.parameters()]
    model = mlp_infogan(mi_source="shared", mi_pair_name="code")
    assert model.mine is None
    trainer = trainer_factory(max_steps=4, limit_val_batches=0, log_every_n_steps=1, callbacks=[_Provider(estimator)])
    trainer.fit(model, flat_loader)
    assert model.estimator is estimator
    assert len(trainer.optimizers) == 2  # no critic optimizer of its own
    assert trainer.callback_metrics["train/grad_norm_mi"] > 0
    for p, b in zip(estimator.parameters(), critic_before, strict=True):
        assert p.grad is None and torch.equal(p, b)
    assert "estimator" not in dict(model.named_modules())  # borrowed, not owned


def test_shared_estimator_missing_fails_before_training(trainer_factory, flat_loader):
    model = mlp_infogan(mi_source="shared", mi_pair_name="absent")
    with pytest.raises(ValueError, match="no callback shares an MI estimator named 'absent'"):
        trainer_factory(fast_dev_run=True, callbacks=[_Provider(MINE(ConcatCritic(2, CODE)))]).fit(model, flat_loader)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: InfoGAN(
                MLPGenerator(8, 2), MLPDiscriminator(2), noise_dim=3, categorical_dims=[3], continuous_dim=0
            ),
            r"generator takes latent_dim=8 inputs, but InfoGAN feeds noise_dim \+ code_dim = 3 \+ 3 = 6",
        ),
        (
            lambda: InfoGAN(
                MLPGenerator(6, 2), MLPDiscriminator(2, code_dim=4), noise_dim=3, categorical_dims=[3], mi="q"
            ),
            r"code head of code_dim=3 outputs .* got code_dim=4",
        ),
        (
            lambda: InfoGAN(
                DCGANGenerator(6, 1, 28, 4), DCGANDiscriminator(1, 32, 4), noise_dim=3, categorical_dims=[3]
            ),
            r"discriminator takes x of shape \(1, 32, 32\), but the generator produces \(1, 28, 28\)",
        ),
        (lambda: mlp_infogan(mi="bogus"), r"`mi` must be one of \['mine', 'q'\], got 'bogus'"),
        (lambda: mlp_infogan(clip="norm"), r"`clip` must be one of \['adaptive', None\], got 'norm'"),
        (lambda: mlp_infogan(categorical_dims=[1]), r"categorical code groups need >= 2 categories"),
        (lambda: mlp_infogan(mi="q", mi_source="shared"), r"needs mi='mine', got mi='q'"),
    ],
)
def test_bad_configuration_fails_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_datamodule_of_another_shape_fails_before_training(trainer_factory):
    model = mlp_infogan()
    before = [p.detach().clone() for p in model.generator.parameters()]
    with pytest.raises(ValueError, match=r"dims=\(1, 16, 16\).*x_shape=\(2,\)"):
        trainer_factory(fast_dev_run=True).fit(model, Digits(image_size=16, batch_size=8))
    assert all(torch.equal(p, b) for p, b in zip(model.generator.parameters(), before, strict=True))


def test_constructor_is_configurable_from_yaml_like_arguments():
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(InfoGAN, "model", sub_configs=True)
    cfg = parser.parse_object(
        {
            "model": {
                "generator": {"class_path": "mine_gan.nets.MLPGenerator", "init_args": {"latent_dim": 8}},
                "discriminator": {"class_path": "mine_gan.nets.MLPDiscriminator"},
                "noise_dim": 3,
                "categorical_dims": [5],
                "mi": "mine",
                "clip": None,
            }
        }
    )
    model = parser.instantiate_classes(cfg).model
    assert isinstance(model.generator, nn.Module) and model.code.dim == 5 and model.clip is None
    assert model.hparams.noise_dim == 3 and "generator" not in model.hparams


DDP_SCRIPT = textwrap.dedent(
    """
    import sys
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader

    from mine_gan.estimators import ConcatCritic
    from mine_gan.models import InfoGAN
    from mine_gan.nets import MLPDiscriminator, MLPGenerator

    out = sys.argv[1]
    pl.seed_everything(0, verbose=False)
    model = InfoGAN(
        MLPGenerator(6, 2, hidden_dims=(16,)), MLPDiscriminator(2, hidden_dims=(16,)),
        noise_dim=3, categorical_dims=[3], critic=ConcatCritic(2, 3, hidden_dims=(16,)),
        mi="mine", clip="adaptive", lr_g=1e-2, lr_d=1e-2, lr_mi=1e-2,
    )
    initial = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    trainer = pl.Trainer(
        strategy="ddp", devices=2, accelerator="cpu", max_steps=6, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )
    trainer.fit(model, DataLoader(data, batch_size=8))
    final = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    result = {"initial": initial, "final": final, "steps": trainer.global_step}
    torch.save(result, f"{out}/rank{trainer.global_rank}.pt")
    """
)


def test_ddp_two_cpu_processes_keep_identical_weights(tmp_path: Path):
    """Two gloo processes through Lightning's DDP take a few InfoGAN+MINE steps with identical weights.

    Lightning's DDP launcher re-executes the running script for rank 1, so the run lives in a script of its
    own, started as a subprocess (re-executing pytest would run the tests again).
    """
    script = tmp_path / "ddp_infogan.py"
    script.write_text(DDP_SCRIPT)
    ranks = run_ranks([str(script), str(tmp_path)], tmp_path)
    assert all(r["steps"] > 0 for r in ranks)
    # Each optimizer averaged its gradients across ranks: the weights moved, and moved identically.
    assert not torch.equal(ranks[0]["final"], ranks[0]["initial"])
    torch.testing.assert_close(ranks[0]["final"], ranks[1]["final"], rtol=0, atol=1e-6)
