"""InformationBottleneck: every encoder trains under Lightning; noise, β and shapes behave as documented."""

from __future__ import annotations

import copy
import math

import pytest
import pytorch_lightning as pl
import torch

from mine_gan.data import MNIST, Digits
from mine_gan.estimators import ConcatCritic
from mine_gan.models import InformationBottleneck
from mine_gan.models.information_bottleneck import StochasticEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


def _model(cls: type[InformationBottleneck] = InformationBottleneck, **kwargs) -> InformationBottleneck:
    defaults = dict(input_dim=64, hidden_dims=(32, 32), z_dim=16, critic=ConcatCritic(64, 16, hidden_dims=(32,)))
    return cls(**{**defaults, **kwargs})


def _trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        **kwargs,
    )


@pytest.mark.parametrize(
    ("encoder", "mi_weight"), [("gaussian", 1e-2), ("additive", 1e-2), ("propagated", 1e-2), ("gaussian", 0.0)]
)
def test_fast_dev_run_on_digits(encoder: str, mi_weight: float) -> None:
    torch.manual_seed(0)
    model = _model(encoder=encoder, mi_weight=mi_weight, noise_std=0.5, noise_dim=8, eval_samples=3)
    critic_before = [p.detach().clone() for p in model.regularizer.parameters()]
    datamodule = Digits(image_size=8, flatten=True, batch_size=32)
    trainer = _trainer(fast_dev_run=True)
    trainer.fit(model, datamodule)
    logged = dict(trainer.callback_metrics)
    for key in ("train/ce", "train/acc", "train/mi", "val/acc", "val/mi"):
        assert torch.isfinite(logged[key]), key
    # The critic is trained in the same step, also for the β = 0 baseline (a monitor).
    assert all(not torch.equal(a, b) for a, b in zip(critic_before, model.regularizer.parameters(), strict=True))
    (result,) = trainer.test(model, datamodule, verbose=False)
    assert result["test/error"] == pytest.approx(1.0 - result["test/acc"])


class _RecordingBottleneck(InformationBottleneck):
    """Records the first training batch, the global random state its step starts from, and the gradients the
    optimizer is given for it."""

    def on_train_batch_start(self, batch, batch_idx):
        if not hasattr(self, "first_batch"):
            self.first_batch, self.first_rng_state = batch, torch.get_rng_state()

    def on_before_optimizer_step(self, optimizer):
        if not hasattr(self, "first_grads"):
            self.first_grads = {n: p.grad.detach().clone() for n, p in self.named_parameters() if p.grad is not None}


def _norm(grads) -> torch.Tensor:
    return torch.cat([g.flatten() for g in grads]).norm()


def test_images_are_flattened_and_clip_trains() -> None:
    """Image batches (B, 1, 8, 8) train a 64-feature model; the encoder's MI gradient is clipped as eq. 21 says."""
    torch.manual_seed(0)
    beta = 0.1
    model = _model(cls=_RecordingBottleneck, encoder="additive", mi_weight=beta, clip="adaptive")
    with torch.no_grad():  # a small decoder: the cross-entropy's gradient on the encoder falls below the MI term's
        model.decoder.weight.mul_(0.01)
    reference = copy.deepcopy(model)  # the networks, critic and moving average the first step starts from
    before = [p.detach().clone() for p in model.parameters()]
    trainer = _trainer(max_steps=3, limit_val_batches=0)
    trainer.fit(model, Digits(image_size=8, batch_size=32))
    assert trainer.global_step == 3
    assert all(not torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))  # everything trained
    assert all(torch.isfinite(trainer.callback_metrics[k]) for k in ("train/ce", "train/mi", "train/loss"))

    # The first step again, by hand: the same batch, encoder noise and MINE shuffle (the global stream).
    x, y = model.first_batch
    assert x.shape == (32, 1, 8, 8)
    torch.set_rng_state(model.first_rng_state)
    z = reference.encoder(x.flatten(1))
    ce = torch.nn.functional.cross_entropy(reference.decoder(z), y)
    critic_loss = reference.regularizer.estimator.loss(x.flatten(1), z)  # minus MINE's estimate
    encoder, decoder = list(reference.encoder.parameters()), list(reference.decoder.parameters())
    critic = list(reference.regularizer.parameters())
    g_u = torch.autograd.grad(ce, encoder, retain_graph=True)
    g_m = torch.autograd.grad(-critic_loss, encoder, retain_graph=True)  # the encoder descends the estimate
    g_critic = torch.autograd.grad(critic_loss, critic, retain_graph=True)  # the critic ascends it
    g_decoder = torch.autograd.grad(ce, decoder)
    assert _norm(g_m) > _norm(g_u)  # the clip binds on this step: it is not a pass-through here
    scale = _norm(g_u) / _norm(g_m)  # eq. 21: min(|g_u|, |g_m|) / |g_m|
    expected = {
        **{
            f"encoder.{n}": u + beta * scale * m
            for (n, _), u, m in zip(reference.encoder.named_parameters(), g_u, g_m, strict=True)
        },
        **{f"decoder.{n}": g for (n, _), g in zip(reference.decoder.named_parameters(), g_decoder, strict=True)},
        **{f"regularizer.{n}": g for (n, _), g in zip(reference.regularizer.named_parameters(), g_critic, strict=True)},
    }
    assert expected.keys() == model.first_grads.keys()
    for name, grad in expected.items():
        torch.testing.assert_close(model.first_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # The MI part of the encoder's step has norm β|g_u|, not β|g_m|.
    applied = [
        model.first_grads[f"encoder.{n}"] - u
        for (n, _), u in zip(reference.encoder.named_parameters(), g_u, strict=True)
    ]
    torch.testing.assert_close(_norm(applied), beta * _norm(g_u), rtol=1e-4, atol=1e-7)


def test_vib_step_is_cross_entropy_plus_beta_kl_and_mine_only_watches() -> None:
    """``mi="vib"``: the encoder's gradient is that of ``CE + β·KL(q(z|x) ‖ N(0, I))`` (deep VIB), with no MINE
    term; MINE's critic still ascends its bound, so ``train/mi`` is the same monitor as for every variant."""
    torch.manual_seed(0)
    beta = 0.5
    model = _model(cls=_RecordingBottleneck, mi="vib", mi_weight=beta)
    with torch.no_grad():  # a visible σ(x): deep VIB's shift starts it at ≈ 0.007, where the KL's gradient is tiny
        model.encoder.net[-1].bias[16:].fill_(5.0)
    reference = copy.deepcopy(model)
    trainer = _trainer(max_steps=2, limit_val_batches=0)
    trainer.fit(model, Digits(image_size=8, flatten=True, batch_size=32))
    assert {"train/kl", "train/mi", "train/ce"} <= trainer.callback_metrics.keys()

    x, y = model.first_batch
    torch.set_rng_state(model.first_rng_state)
    mean, raw_std = reference.encoder.net(x).chunk(2, dim=1)
    std = torch.nn.functional.softplus(raw_std - 5.0)
    z = mean + std * torch.randn_like(mean)
    kl = (
        torch.distributions.kl_divergence(  # the analytic KL, from torch's own table
            torch.distributions.Normal(mean, std), torch.distributions.Normal(0.0, 1.0)
        )
        .sum(dim=1)
        .mean()
    )
    ce = torch.nn.functional.cross_entropy(reference.decoder(z), y)
    critic_loss = reference.regularizer.estimator.loss(x, z.detach())
    encoder = list(reference.encoder.parameters())
    g_encoder = torch.autograd.grad(ce + beta * kl, encoder, retain_graph=True)
    g_kl = torch.autograd.grad(kl, encoder, retain_graph=True)
    g_critic = torch.autograd.grad(critic_loss, list(reference.regularizer.parameters()))
    assert _norm(g_kl) > 0.1 * _norm(g_encoder)  # the KL's share is not negligible on this step
    for (n, _), g in zip(reference.encoder.named_parameters(), g_encoder, strict=True):
        torch.testing.assert_close(model.first_grads[f"encoder.{n}"], g, rtol=1e-4, atol=1e-6, msg=n)
    for (n, _), g in zip(reference.regularizer.named_parameters(), g_critic, strict=True):
        torch.testing.assert_close(model.first_grads[f"regularizer.{n}"], g, rtol=1e-4, atol=1e-6, msg=n)


def test_dropout_is_on_in_training_only() -> None:
    """The dropout baseline: dropout after every hidden layer of the encoder, off in evaluation."""
    torch.manual_seed(0)
    model = _model(mi_weight=0.0, dropout=0.5)
    dropouts = [m for m in model.encoder.net if isinstance(m, torch.nn.Dropout)]
    assert [m.p for m in dropouts] == [0.5, 0.5]
    x = torch.randn(8, 64)
    model.train()
    assert not torch.equal(model.encode(x), model.encode(x))
    model.eval()
    assert torch.equal(model.encode(x), model.encode(x))
    assert not any(isinstance(m, torch.nn.Dropout) for m in _model(mi_weight=0.0).encoder.net)


@pytest.mark.parametrize("kind", ["gaussian", "additive", "propagated"])
def test_noise_is_on_only_when_stochastic(kind: str) -> None:
    torch.manual_seed(0)
    encoder = StochasticEncoder(6, z_dim=4, hidden_dims=(8,), kind=kind, noise_std=1.0)
    if kind == "gaussian":  # make σ(x) visible: deep VIB's shift would start it at ≈ 0.007
        torch.nn.init.constant_(encoder.net[-1].bias, 8.0)
    x = torch.randn(5, 6)
    assert torch.equal(encoder(x, stochastic=False), encoder(x, stochastic=False))
    assert not torch.allclose(encoder(x), encoder(x))


def test_mi_weight_zero_is_deterministic_and_positive_is_stochastic() -> None:
    x = torch.randn(4, 64)
    baseline = _model(encoder="additive", mi_weight=0.0)
    assert not baseline.stochastic and torch.equal(baseline.encode(x), baseline.encode(x))
    assert _model(encoder="additive", mi_weight=1e-3).stochastic
    assert _model(encoder="additive", mi_weight=0.0, stochastic=True).stochastic  # the noise-only ablation
    probs = _model(encoder="additive", mi_weight=1e-3, eval_samples=5).predict_proba(x)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(4))


def test_mismatched_data_fails_before_training() -> None:
    model = _model()
    with pytest.raises(ValueError, match=r"`input_dim`=64 does not match the data: Digits.dims=\(256,\)"):
        _trainer(fast_dev_run=True).fit(model, Digits(image_size=16, flatten=True))
    with pytest.raises(ValueError, match="features per sample"):
        model.predict_proba(torch.randn(3, 10))


def test_mnist_without_files_fails_before_training(tmp_path) -> None:
    model = _model(input_dim=784, critic=ConcatCritic(784, 16, hidden_dims=(8,)))
    with pytest.raises(FileNotFoundError, match="MNIST files not found"):
        _trainer(fast_dev_run=True).fit(model, MNIST(root=str(tmp_path), flatten=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"encoder": "dropout"}, "`encoder` must be one of"),
        ({"mi_weight": -0.1}, "`mi_weight` must be >= 0"),
        ({"clip": True}, r"`clip` must be one of \['adaptive', None\], got True"),
        ({"lr_decay": 0.985}, "`lr_decay` must be one of"),
        ({"lr_decay_rate": 1.5}, r"`lr_decay_rate` must be in \[0, 1\]"),
        ({"noise_std": -1.0}, "`noise_std` must be >= 0"),
        ({"mi_bound": "kl"}, "`mi_bound` must be one of"),
        ({"mi": "vib", "encoder": "additive"}, "mi='vib' needs encoder='gaussian', got 'additive'"),
        ({"mi": "vib", "clip": "adaptive"}, "with mi='vib' set clip=None, got 'adaptive'"),
        ({"mi": "q"}, "`mi` must be one of"),
        ({"dropout": 1.0}, r"`dropout` must be in \[0, 1\), got 1.0"),
        ({"num_classes": 1}, "`num_classes` must be >= 2"),
    ],
)
def test_bad_arguments_fail_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _model(**kwargs)


@pytest.mark.parametrize("old", [{"beta": 1e-3}, {"critic_lr": 1e-3}])
def test_old_argument_names_are_refused(old: dict) -> None:
    """β is ``mi_weight`` and the critic's learning rate ``lr_mi`` everywhere; the old names fail."""
    with pytest.raises(TypeError, match=next(iter(old))):
        _model(**old)


@pytest.mark.parametrize(
    ("lr_decay", "factor"),
    [("none", 1.0), ("exponential", 0.5**2), ("linear", 0.0)],
)
@pytest.mark.parametrize("mi_lr_decay", [False, True])
def test_lr_decay_schedules(lr_decay: str, factor: float, mi_lr_decay: bool) -> None:
    """``"exponential"``: times ``lr_decay_rate`` per epoch; ``"linear"``: to 0 over the run; ``"none"``. The
    critic's own ``lr_mi`` keeps its value unless ``mi_lr_decay``, then follows the same schedule."""
    model = _model(lr=1e-3, lr_mi=2e-3, lr_decay=lr_decay, lr_decay_rate=0.5, mi_lr_decay=mi_lr_decay)
    _trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=0).fit(
        model, Digits(image_size=8, flatten=True, batch_size=16)
    )
    lrs = [group["lr"] for group in model.optimizers().optimizer.param_groups]
    assert lrs == pytest.approx([1e-3 * factor])  # the critic is not in the encoder's optimizer
    (critic_group,) = model.regularizer.critic_optimizer.param_groups
    assert critic_group["lr"] == pytest.approx(2e-3 * (factor if mi_lr_decay else 1.0))


def test_shared_critic_decays_with_the_encoder() -> None:
    """``lr_mi=None``: the critic is a group of the encoder's Adam at ``lr`` and decays with it."""
    model = _model(lr=1e-3, lr_decay="exponential", lr_decay_rate=0.5)
    _trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=0).fit(
        model, Digits(image_size=8, flatten=True, batch_size=16)
    )
    assert model.regularizer.critic_optimizer is None
    assert [g["lr"] for g in model.optimizers().optimizer.param_groups] == pytest.approx([2.5e-4, 2.5e-4])


def _gaussian_pairs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``X ~ N(0, I_2)``, ``Z = X + ε/2``: ``I(X; Z) = 2 · ½ log(1 + 4) = log 5`` nats."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return x, x + 0.5 * torch.randn(n, 2, generator=g)


def test_health_figure_is_near_zero_for_a_trained_critic_and_negative_for_a_lagging_one() -> None:
    """Ground truth ``log 5``: a well-trained critic reads it as the fresh one does (gap ≈ 0); an untrained critic,
    the extreme of a critic the encoder has outrun, reads ≈ 0 and the gap is about ``−log 5``."""
    torch.manual_seed(0)
    model = InformationBottleneck(input_dim=2, hidden_dims=(8,), z_dim=2, critic_hidden_dims=(64, 64), lr_mi=3e-3)
    x, z = _gaussian_pairs(2000, seed=1)
    lagging_own, lagging_check = model.mi_check(x, z, steps=400)
    assert lagging_check == pytest.approx(math.log(5), abs=0.25)
    assert lagging_own - lagging_check < -1.0

    regularizer = model.regularizer
    for step in range(1500):
        regularizer.train_critic(*_gaussian_pairs(256, seed=100 + step))
    own, check = model.mi_check(x, z, steps=400)
    assert own == pytest.approx(math.log(5), abs=0.25)
    assert abs(own - check) < 0.2


def test_health_figure_is_logged_on_check_epochs() -> None:
    torch.manual_seed(0)
    model = _model(mi_weight=1e-2, lr_mi=1e-3, mi_steps=2, mi_shuffles=2, mi_check_steps=5, mi_check_every_n_epochs=2)
    logged = []

    class Record(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):  # after the epoch's validation
            logged.append({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/mi_")})

    trainer = _trainer(max_epochs=3, limit_train_batches=2, limit_val_batches=2, callbacks=[Record()])
    trainer.fit(model, Digits(image_size=8, flatten=True, batch_size=32))
    # Epoch 2 (every second) and epoch 3 (the last) are checked; epoch 1 (and the sanity check) is not.
    assert [sorted(m) for m in logged] == [[]] + [["val/mi_check", "val/mi_gap", "val/mi_own"]] * 2
    for metrics in logged[1:]:
        assert metrics["val/mi_gap"] == pytest.approx(metrics["val/mi_own"] - metrics["val/mi_check"], abs=1e-5)
    assert logged[1]["val/mi_own"] != logged[2]["val/mi_own"]  # checked again, not carried over


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mi_steps": 3}, "`mi_steps`=3 needs the critic's own optimizer: set `lr_mi`"),
        ({"mi_steps": 0, "lr_mi": 1e-3}, "`mi_steps` must be an integer >= 1, got 0"),
        ({"mi_shuffles": 0}, "`shuffles` must be an integer >= 1, got 0"),
        ({"mi_lr_decay": True}, "`mi_lr_decay`=True decays the critic's own learning rate: set `lr_mi`"),
        ({"critic_hidden_dims": [64]}, r"`critic_hidden_dims`=\[64\] sizes the default critic"),
        ({"mi_check_steps": -1}, "`mi_check_steps` must be an integer >= 0, got -1"),
        ({"mi_check_every_n_epochs": 0}, "`mi_check_every_n_epochs` must be an integer >= 1, got 0"),
    ],
)
def test_bad_critic_training_fails_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _model(**kwargs)  # _model passes a critic, so critic_hidden_dims conflicts with it


def test_critic_width_from_the_config() -> None:
    model = InformationBottleneck(input_dim=64, hidden_dims=(32,), z_dim=8, critic_hidden_dims=[24, 12])
    widths = [m.out_features for m in model.regularizer.critic.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [24, 12, 1]
