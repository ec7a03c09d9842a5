"""InfoGAN: every variant trains, the generator's update is g_u + β g_a, and bad configurations fail early."""

from __future__ import annotations

import copy
import math
import textwrap
from pathlib import Path

import pytest
import pytorch_lightning as pl
import scipy.stats
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


def mlp_infogan(cls: type[InfoGAN] = InfoGAN, **kwargs) -> InfoGAN:
    options = dict(noise_dim=NOISE, categorical_dims=CATS, continuous_dim=CONT)
    options.update(kwargs)
    return cls(
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


class _FrozenInfoGAN(InfoGAN):
    """Every network on SGD(lr=0): what a training step logs is a function of the networks as built and of the
    step's latent, which is recorded."""

    def configure_optimizers(self):
        networks = [self.discriminator, self.generator, *([self.mine] if self.mine is not None else [])]
        return [torch.optim.SGD(net.parameters(), lr=0.0) for net in networks]

    def _latent(self, n, generator, code=None, *, per_process=True):
        self.last_latent = super()._latent(n, generator, code, per_process=per_process)
        return self.last_latent


def _one_logged_step(trainer_factory, loader, model: InfoGAN) -> dict[str, torch.Tensor]:
    trainer = trainer_factory(max_epochs=1, limit_train_batches=1, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(model, loader)
    return dict(trainer.callback_metrics)


def test_hinge_losses_are_the_hinge_formulas_of_the_step_logits(trainer_factory, flat_loader):
    torch.manual_seed(0)
    model = mlp_infogan(_FrozenInfoGAN, adversarial="hinge")
    logged = _one_logged_step(trainer_factory, flat_loader, model)
    real = next(iter(flat_loader))
    z, _ = model.last_latent
    with torch.no_grad():
        real_logits, fake_logits = model.discriminator(real), model.discriminator(model.generator(z))
    # Lim & Ye (2017): D minimizes max(0, 1 - D(x)) + max(0, 1 + D(G(z))), G minimizes -D(G(z)).
    d_hinge = torch.clamp(1 - real_logits, min=0).mean() + torch.clamp(1 + fake_logits, min=0).mean()
    g_hinge = -fake_logits.mean()
    torch.testing.assert_close(logged["train/d_loss"], d_hinge)
    torch.testing.assert_close(logged["train/g_loss"], g_hinge)
    # The non-saturating losses of the same logits are other numbers: the check tells the two apart.
    non_saturating = (
        torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean()
    )
    assert abs(float(non_saturating - d_hinge)) > 1e-3


def test_nwj_bound_logs_the_nwj_value_of_the_critic_scores(trainer_factory, flat_loader):
    torch.manual_seed(0)
    model = mlp_infogan(_FrozenInfoGAN, mi_bound="nwj")
    assert model.mine.bound == "nwj"
    model.mine.marginal = "all_pairs"  # every (G(z_i), c_j), i != j: no random shuffle to replay
    logged = _one_logged_step(trainer_factory, flat_loader, model)
    z, code = model.last_latent
    n = z.shape[0]
    with torch.no_grad():
        fake = model.generator(z)
        # scores[i, j] = T(G(z_i), c_j), one critic call per pair
        scores = model.mine.critic(fake.repeat_interleave(n, dim=0), code.repeat(n, 1)).view(n, n)
    joint = scores.diagonal()
    product = scores[~torch.eye(n, dtype=torch.bool)]
    nwj = joint.mean() - torch.exp(product - 1).mean()  # Nguyen, Wainwright & Jordan: E_P[T] - E_Q[e^(T-1)]
    torch.testing.assert_close(logged["train/mi"], nwj)
    donsker_varadhan = joint.mean() - (torch.logsumexp(product, 0) - math.log(product.numel()))
    assert abs(float(donsker_varadhan - nwj)) > 1e-3  # the two bounds differ on these scores


def test_gaussian_continuous_code_is_standard_normal():
    model = mlp_infogan(continuous="gaussian", mi="q")
    z, code = model.latent(20_000, torch.Generator().manual_seed(0))
    continuous = code[:, CATS[0] :]
    assert torch.equal(z[:, NOISE:], code)
    for j in range(CONT):  # Kolmogorov-Smirnov against N(0, 1), on a fixed draw
        assert scipy.stats.kstest(continuous[:, j].numpy(), "norm").pvalue > 0.01
    # The uniform code on [-1, 1] fails the same test: it can tell the two apart.
    _, uniform = mlp_infogan(continuous="uniform", mi="q").latent(20_000, torch.Generator().manual_seed(0))
    assert scipy.stats.kstest(uniform[:, CATS[0]].numpy(), "norm").pvalue < 1e-6


def test_gaussian_code_q_bound_is_entropy_plus_gaussian_log_likelihood(trainer_factory, flat_loader):
    torch.manual_seed(0)
    model = mlp_infogan(_FrozenInfoGAN, continuous="gaussian", mi="q")
    logged = _one_logged_step(trainer_factory, flat_loader, model)
    z, code = model.last_latent
    with torch.no_grad():
        _, q_out = model.discriminator.forward_with_code(model.generator(z))
    k = CATS[0]
    categories = torch.distributions.Categorical(logits=q_out[:, :k])
    gaussian = torch.distributions.Normal(q_out[:, k:], 1.0)  # Q(c | x): unit variance around the head's output
    log_q = categories.log_prob(code[:, :k].argmax(dim=1)) + gaussian.log_prob(code[:, k:]).sum(dim=1)
    entropy = math.log(k) + CONT * torch.distributions.Normal(0.0, 1.0).entropy()  # H(c) of N(0, I) codes
    torch.testing.assert_close(logged["train/mi"], entropy + log_q.mean())


def test_mi_weight_zero_trains_a_plain_gan(trainer_factory, flat_loader):
    torch.manual_seed(0)
    model = mlp_infogan(_SGDInfoGAN, mi_weight=0.0)
    assert model.mine is None  # a plain GAN pays for no critic
    before = [p.detach().clone() for p in model.generator.parameters()]
    trainer = trainer_factory(max_epochs=1, limit_train_batches=1, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(model, flat_loader)
    assert len(trainer.optimizers) == 2
    logged = trainer.callback_metrics
    assert "train/mi" not in logged and float(logged["train/grad_norm_mi_clipped"]) == 0.0
    # The generator stepped on its adversarial gradient alone (SGD, lr=1; D frozen).
    reference = copy.deepcopy(model.generator)
    with torch.no_grad():
        for p, b in zip(reference.parameters(), before, strict=True):
            p.copy_(b)
    params = list(reference.parameters())
    grads = torch.autograd.grad(generator_loss(model.discriminator(reference(model.last_latent[0]))), params)
    for p, b, g in zip(model.generator.parameters(), before, grads, strict=True):
        torch.testing.assert_close(p.detach() - b, -g)


def _changed(module: nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(p, b) for p, b in zip(module.parameters(), before, strict=True))


def _snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_fits_the_gaussian_mixture_and_logs_mode_metrics_of_its_samples(trainer_factory):
    torch.manual_seed(0)
    # std 0.5: every point near the grid is within 3σ of a centre, so the counts below are not all zero.
    dm = GaussianMixture(std=0.5, num_samples=64, batch_size=32, num_val_samples=64)
    model = mlp_infogan()
    before = {name: _snapshot(getattr(model, name)) for name in ("generator", "discriminator", "mine")}
    validation_samples = []
    model.generator.register_forward_hook(
        lambda m, inputs, out: validation_samples.append(out.detach()) if model.trainer.validating else None
    )
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(model, dm)
    logged = trainer.callback_metrics
    assert all(_changed(getattr(model, name), b) for name, b in before.items())  # G, D and T all trained
    assert all(torch.isfinite(logged[k]) for k in ("train/d_loss", "train/g_loss", "train/mi"))

    # PacGAN's protocol by its definition, on the samples validation generated.
    samples = torch.cat(validation_samples)
    assert samples.shape == (32, 2)
    distance, nearest = torch.cdist(samples, dm.centers).min(dim=1)
    high_quality = distance <= 3 * dm.std
    counts = torch.bincount(nearest[high_quality], minlength=len(dm.centers)).double()
    p = counts[counts > 0] / counts.sum()
    assert float(logged["val/modes"]) == int((counts > 0).sum()) > 0
    assert float(logged["val/high_quality"]) == pytest.approx(float(high_quality.double().mean()))
    assert float(logged["val/kl"]) == pytest.approx(float((p * torch.log(p * len(counts))).sum()), abs=1e-6)


@pytest.mark.parametrize("mi", ["mine", "q"])
def test_fits_digits_with_conv_nets(trainer_factory, mi):
    torch.manual_seed(0)
    dm = Digits(image_size=16, batch_size=8)
    model = conv_infogan(mi=mi)
    trained = ("generator", "discriminator", "mine") if mi == "mine" else ("generator", "discriminator")
    before = {name: _snapshot(getattr(model, name)) for name in trained}
    trainer = trainer_factory(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0, log_every_n_steps=1
    )
    trainer.fit(model, dm)
    assert all(_changed(getattr(model, name), b) for name, b in before.items())  # with mi="q", D holds Q's head
    assert all(torch.isfinite(trainer.callback_metrics[k]) for k in ("train/d_loss", "train/g_loss", "train/mi"))
    samples = model.sample(4, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (4, 1, 16, 16) and samples.min() >= -1 and samples.max() <= 1  # the data's range


def test_sample_and_code_traversal_shapes():
    model = conv_infogan(28)
    assert model.sample(5).shape == (5, 1, 28, 28)
    traversal = model.code_traversal(4)
    assert traversal.shape == (CODE, 4, 1, 28, 28)
    assert model.training  # sampling restores the mode it found


def test_random_streams_are_rng_not_generator():
    """``generator`` is the G network; a ``torch.Generator`` argument is ``rng`` everywhere."""
    model = mlp_infogan()
    draws = [model.sample(3, rng=torch.Generator().manual_seed(0)) for _ in range(2)]
    torch.testing.assert_close(draws[0], draws[1])
    torch.testing.assert_close(
        model.code_traversal(2, rng=torch.Generator().manual_seed(1)),
        model.code_traversal(2, rng=torch.Generator().manual_seed(1)),
    )
    with pytest.raises(TypeError, match="`rng`"):
        model.sample(3, generator=torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        model.code_traversal(2, generator=torch.Generator())


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
