import pytest
import torch

from mine_gan.batched import BatchedGANTrainer, GANConfig, StackedModule
from mine_gan.data import GaussianMixture
from mine_gan.nets import MLPDiscriminator

TINY = dict(noise_dim=2, categorical_dims=(4,), hidden_dims=(16, 16), batch_size=16, iterations=40)
VARIANTS = {
    "gan+mine code, js, R1 on D and T": GANConfig(**TINY, d_penalty=1.0, mi_penalty=0.1),
    "gan+mine latent, ema bound, no clip": GANConfig(**TINY, mi_target="latent", mi_bound="mine", clip=None),
    "infogan q, interpolates, 2 d steps": GANConfig(
        **TINY, mi="q", d_penalty=1.0, d_penalty_points="interpolates", d_steps=2
    ),
    "plain gan": GANConfig(**TINY, mi_weight=0.0, lr_decay="none"),
}


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # rounding of batched vs single matmuls stays far below tolerance
    yield
    torch.set_default_dtype(previous)


def _run(config, seeds):
    trainer = BatchedGANTrainer(config, GaussianMixture(), seeds)
    trainer.train()
    return trainer, {k: torch.stack(v) for k, v in trainer.history.items()}, trainer.sample(64)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_batched_seeds_equal_separate_runs(name, float64):
    config = VARIANTS[name]
    _, history, samples = _run(config, [0, 1, 2])
    for i, seed in enumerate([0, 1, 2]):
        _, alone, alone_samples = _run(config, [seed])
        for key in history:
            torch.testing.assert_close(history[key][:, i], alone[key][:, 0], rtol=1e-7, atol=1e-9, equal_nan=True)
        torch.testing.assert_close(samples[i], alone_samples[0], rtol=1e-7, atol=1e-9)
    # The seeds really differ, so the equality above is not that of three copies.
    assert not torch.allclose(samples[0], samples[1])


def test_seed_order_in_the_batch_does_not_matter(float64):
    config = VARIANTS["gan+mine code, js, R1 on D and T"]
    _, _, forward = _run(config, [3, 4])
    _, _, backward = _run(config, [4, 3])
    torch.testing.assert_close(forward, backward.flip(0), rtol=1e-7, atol=1e-9)


def test_mi_term_is_recorded_only_with_one():
    config = GANConfig(**(TINY | {"iterations": 5}), mi_weight=0.0)
    trainer, history, _ = _run(config, [0, 1])
    assert trainer.critic is None and torch.isnan(history["mi"]).all()
    trainer, history, _ = _run(GANConfig(**(TINY | {"iterations": 5})), [0, 1])
    assert torch.isfinite(history["mi"]).all()


def test_linear_decay_reaches_zero():
    trainer, _, _ = _run(GANConfig(**(TINY | {"iterations": 4})), [0])
    assert all(group["lr"] == 0.0 for opt in trainer.optimizers for group in opt.param_groups)


def test_stacked_module_reaches_other_methods():
    nets = [MLPDiscriminator(2, (8,), code_dim=3) for _ in range(2)]
    stacked = StackedModule(nets)
    x = torch.randn(2, 5, 2)
    logits, codes = stacked(x, method="forward_with_code")
    expected_logits, expected_codes = nets[1].forward_with_code(x[1])
    torch.testing.assert_close(logits[1], expected_logits)
    torch.testing.assert_close(codes[1], expected_codes)
    assert isinstance(stacked.unstack(1, MLPDiscriminator(2, (8,), code_dim=3)), MLPDiscriminator)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"mi": "info"}, "mi"),
        ({"mi_target": "noise"}, "mi_target"),
        ({"mi_bound": "infonce"}, "mi_bound"),
        ({"clip": "norm"}, "clip"),
        ({"d_penalty_points": "fake"}, "d_penalty_points"),
        ({"lr_decay": "cosine"}, "lr_decay"),
        ({"d_steps": 0}, "d_steps"),
        ({"d_penalty": -1.0}, "d_penalty"),
        ({"mi": "q", "mi_target": "latent"}, "mi_target"),
        ({"categorical_dims": (), "mi_weight": 1.0}, "code"),
    ],
)
def test_bad_configurations_name_the_argument(kwargs, named):
    with pytest.raises(ValueError, match=named):
        GANConfig(**kwargs)


def test_bad_seeds():
    with pytest.raises(ValueError, match="seeds"):
        BatchedGANTrainer(GANConfig(**TINY), GaussianMixture(), [1, 1])


def test_digest_ignores_the_name():
    assert GANConfig(name="a").digest() == GANConfig(name="b").digest() != GANConfig(mi_weight=0.5).digest()
