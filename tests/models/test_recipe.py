"""The training recipe's options in the GAN modules: d_steps by step counts, the penalty in D's step,
the learning-rate decay, spectral and batch normalization, and the MI target."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from mine_gan.models import BiGAN, InfoGAN
from mine_gan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator
from mine_gan.nets.losses import discriminator_loss, gradient_penalty


def _infogan(**kwargs):
    torch.manual_seed(0)
    return InfoGAN(MLPGenerator(5, 2, (16,)), MLPDiscriminator(2, (16,)), noise_dim=2, categorical_dims=[3], **kwargs)


def _fit(model, batches=6, **trainer_kwargs):
    data = DataLoader(torch.randn(8 * batches, 2, generator=torch.Generator().manual_seed(1)), batch_size=8)
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, **trainer_kwargs,
    )  # fmt: skip
    trainer.fit(model, data)
    return trainer


class _Counting(pl.Callback):
    def __init__(self):
        self.steps: dict[int, int] = {}

    def on_train_start(self, trainer, pl_module):
        for index, optimizer in enumerate(trainer.optimizers):
            optimizer.register_step_post_hook(lambda *_, i=index: self.steps.__setitem__(i, self.steps.get(i, 0) + 1))


@pytest.mark.parametrize("d_steps", [1, 2, 3])
def test_d_steps_discriminator_steps_per_generator_step(d_steps):
    counter = _Counting()
    trainer = _fit(_infogan(d_steps=d_steps), batches=6, callbacks=[counter])
    assert counter.steps[0] == 6  # D: every batch
    assert counter.steps[1] == counter.steps[2] == 6 // d_steps  # G and MINE's T: every d_steps-th batch
    assert trainer.global_step == 6 + 2 * (6 // d_steps)


def test_d_penalty_adds_its_closed_form_to_the_discriminator_step():
    """With SGD(lr=1) on D, D's update is minus the gradient of its loss plus (γ/2)·R1."""

    class SGDInfoGAN(InfoGAN):
        def configure_optimizers(self):
            return [
                torch.optim.SGD(self.discriminator.parameters(), lr=1.0),
                torch.optim.SGD(self.generator.parameters(), lr=0.0),
                torch.optim.SGD(self.mine.parameters(), lr=0.0),
            ]

    gamma = 4.0
    torch.manual_seed(0)
    model = SGDInfoGAN(
        MLPGenerator(5, 2, (16,)), MLPDiscriminator(2, (16,)), noise_dim=2, categorical_dims=[3], d_penalty=gamma
    )
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    fakes = []
    model.generator.register_forward_hook(lambda m, i, out: fakes.append(out.detach()) if not fakes else None)
    _fit(model, batches=1)
    reference = MLPDiscriminator(2, (16,))
    reference.load_state_dict(before)
    real = torch.randn(8, 2, generator=torch.Generator().manual_seed(1))
    loss = discriminator_loss(reference(real), reference(fakes[0])) + gamma / 2 * gradient_penalty(reference, real)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    for (name, p), g in zip(model.discriminator.named_parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), before[name] - g, rtol=1e-5, atol=1e-6, msg=name)


def test_linear_lr_decay_reaches_zero_at_the_end():
    model = _infogan(lr_decay="linear", lr_g=1e-3)
    trainer = _fit(model, batches=6)
    assert [pytest.approx(o.param_groups[0]["lr"], abs=1e-12) for o in trainer.optimizers] == [0.0, 0.0, 0.0]
    assert len(trainer.lr_scheduler_configs) == 3


def test_spectral_norm_and_batch_norm_networks():
    d = MLPDiscriminator(2, (32, 32), spectral_norm=True)
    for _ in range(20):  # power iterations run in training-mode forwards
        d(torch.randn(64, 2))
    d.eval()
    linears = [m for m in d.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    for layer in linears:
        assert float(torch.linalg.matrix_norm(layer.weight.detach(), ord=2)) == pytest.approx(1.0, rel=1e-2)
    g = MLPGenerator(4, 2, (8, 8), batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in g.modules()) == 2


def test_mi_target_latent_measures_the_whole_latent():
    model = _infogan(mi_target="latent")
    assert model.mine.critic.z_dim == 2 + 3
    trainer = _fit(model, batches=2, log_every_n_steps=1)
    assert float(trainer.callback_metrics["train/grad_norm_mi"]) > 0
    with pytest.raises(ValueError, match="mi='q' needs mi_target='code'"):
        InfoGAN(
            MLPGenerator(5, 2),
            MLPDiscriminator(2, code_dim=3),
            noise_dim=2,
            categorical_dims=[3],
            mi="q",
            mi_target="latent",
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d_steps": 0}, "`d_steps` must be an integer >= 1"),
        ({"d_penalty": -1.0}, "`d_penalty` must be >= 0"),
        ({"d_penalty_points": "fake"}, "`d_penalty_points` must be one of"),
        ({"lr_decay": "cosine"}, "`lr_decay` must be one of"),
        # the bottleneck's per-epoch decay: a GAN's schedule runs per iteration
        ({"lr_decay": "exponential"}, r"`lr_decay` must be one of \['none', 'linear'\], got 'exponential'"),
        ({"clip": True}, r"`clip` must be one of \['adaptive', None\], got True"),
        ({"mi_weight": -1.0}, "`mi_weight` must be >= 0, got -1.0"),
        ({"mi_target": "noise"}, "`mi_target` must be one of"),
    ],
)
def test_bad_recipe_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _infogan(**kwargs)


def test_bigan_takes_the_same_recipe():
    torch.manual_seed(0)
    model = BiGAN(
        MLPGenerator(3, 2, (16,)),
        MLPEncoder(2, 3, (16,)),
        MLPDiscriminator(2, (16,), latent_dim=3, spectral_norm=True),
        d_steps=2, d_penalty=1.0, d_penalty_points="interpolates", mi_penalty=1.0, lr_decay="linear",
    )  # fmt: skip
    counter = _Counting()
    _fit(model, batches=4, callbacks=[counter])
    assert counter.steps == {0: 4, 1: 2, 2: 2}
