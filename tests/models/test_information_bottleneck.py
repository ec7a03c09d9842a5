"""InformationBottleneck: every encoder trains under Lightning; noise, β and shapes behave as documented."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from mine_gan.data import MNIST, Digits
from mine_gan.estimators import ConcatCritic
from mine_gan.models import InformationBottleneck
from mine_gan.models.information_bottleneck import StochasticEncoder


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny nets: intra-op threads only add overhead (and spin on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(**kwargs) -> InformationBottleneck:
    defaults = dict(input_dim=64, hidden_dims=(32, 32), z_dim=16, critic=ConcatCritic(64, 16, hidden_dims=(32,)))
    return InformationBottleneck(**{**defaults, **kwargs})


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
    ("encoder", "beta"), [("gaussian", 1e-2), ("additive", 1e-2), ("propagated", 1e-2), ("gaussian", 0.0)]
)
def test_fast_dev_run_on_digits(encoder: str, beta: float) -> None:
    torch.manual_seed(0)
    model = _model(encoder=encoder, beta=beta, noise_std=0.5, noise_dim=8, eval_samples=3)
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


def test_images_are_flattened_and_clip_trains() -> None:
    """Image batches (B, 1, 8, 8) work for a 64-feature model; adaptive clipping runs inside Lightning."""
    torch.manual_seed(0)
    model = _model(encoder="additive", beta=0.1, clip=True)
    trainer = _trainer(max_steps=3, limit_val_batches=0)
    trainer.fit(model, Digits(image_size=8, batch_size=32))
    assert trainer.global_step == 3


@pytest.mark.parametrize("kind", ["gaussian", "additive", "propagated"])
def test_noise_is_on_only_when_stochastic(kind: str) -> None:
    torch.manual_seed(0)
    encoder = StochasticEncoder(6, z_dim=4, hidden_dims=(8,), kind=kind, noise_std=1.0)
    if kind == "gaussian":  # make σ(x) visible: deep VIB's shift would start it at ≈ 0.007
        torch.nn.init.constant_(encoder.net[-1].bias, 8.0)
    x = torch.randn(5, 6)
    assert torch.equal(encoder(x, stochastic=False), encoder(x, stochastic=False))
    assert not torch.allclose(encoder(x), encoder(x))


def test_beta_zero_is_deterministic_and_beta_positive_is_stochastic() -> None:
    x = torch.randn(4, 64)
    baseline = _model(encoder="additive", beta=0.0)
    assert not baseline.stochastic and torch.equal(baseline.encode(x), baseline.encode(x))
    assert _model(encoder="additive", beta=1e-3).stochastic
    assert _model(encoder="additive", beta=0.0, stochastic=True).stochastic  # the noise-only ablation
    probs = _model(encoder="additive", beta=1e-3, eval_samples=5).predict_proba(x)
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
        ({"beta": -0.1}, "`beta` must be >= 0"),
        ({"noise_std": -1.0}, "`noise_std` must be >= 0"),
        ({"bound": "kl"}, "`bound` must be one of"),
        ({"num_classes": 1}, "`num_classes` must be >= 2"),
    ],
)
def test_bad_arguments_fail_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _model(**kwargs)
