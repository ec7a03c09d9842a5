"""``precision="16-mixed"``: eq. 21 and the logged norms on true gradients, penalties that survive float16.

Lightning's 16-mixed plugin multiplies every ``manual_backward`` loss by its GradScaler's scale and divides
it out in the optimizer step; the scale grows or shrinks after steps. The plugin refuses float16 on a CPU,
so the tests build it directly with a CPU GradScaler: the same ``pre_backward`` scaling, ``unscale_``,
``step`` and ``update`` a GPU run goes through.

* With autocast off, the scaler is the only difference from a 32-bit run, and its scale is a power of two:
  the trained weights and the logged norms must equal the 32-bit run's. A scale that doubles after every
  step makes the critic's ``g_m`` and the generator's ``g_u`` be taken under different scales.
* With float16 autocast, the norms are the 32-bit run's up to float16 rounding, not the loss scale times it.
* A gradient penalty whose input gradient underflows in float16 survives when taken under the loss scale.
"""

from __future__ import annotations

import contextlib

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import MixedPrecision

from mine_gan.data import GaussianMixture
from mine_gan.models import InfoGAN
from mine_gan.nets import MLPDiscriminator, MLPGenerator
from mine_gan.nets.losses import gradient_penalty

NORMS = ("train/grad_norm_adv", "train/grad_norm_mi", "train/grad_norm_mi_clipped")


class ScalerOnly(MixedPrecision):
    """16-mixed's GradScaler path with autocast off: float32 arithmetic, scaled losses."""

    def forward_context(self):
        return contextlib.nullcontext()


def _scaler(growth_interval: int = 2000) -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", init_scale=2.0**16, growth_interval=growth_interval)


def _fit(tmp_path, plugin: MixedPrecision | None) -> tuple[InfoGAN, dict[str, list[float]]]:
    pl.seed_everything(0)
    # Every gradient the recipe takes: eq. 21 with MINE, penalties on D and on T (their inner autograd.grad).
    model = InfoGAN(
        MLPGenerator(5, 2, (16,)), MLPDiscriminator(2, (16,)), noise_dim=2, categorical_dims=(3,),
        d_penalty=1.0, mi_penalty=1.0, mi_weight=1.0, clip="adaptive",
    )  # fmt: skip
    norms: dict[str, list[float]] = {k: [] for k in NORMS}

    class Norms(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            for key in NORMS:
                norms[key].append(float(trainer.callback_metrics[key]))

    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=4, limit_val_batches=0, log_every_n_steps=1, logger=False,
        default_root_dir=tmp_path, callbacks=[Norms()], plugins=[plugin] if plugin else None,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, GaussianMixture(num_samples=128, batch_size=32, num_val_samples=64))
    return model, norms


def test_the_loss_scale_changes_nothing_the_model_learns_or_logs(tmp_path):
    reference, reference_norms = _fit(tmp_path, None)
    scaler = _scaler(growth_interval=1)  # the scale doubles after every step: g_m and g_u under different scales
    scaled, scaled_norms = _fit(tmp_path, ScalerOnly("16-mixed", "cpu", scaler=scaler))
    assert scaler.get_scale() > 2.0**16  # the scale did change during the run
    assert scaled_norms == reference_norms
    for (name, value), expected in zip(scaled.state_dict().items(), reference.state_dict().values(), strict=True):
        torch.testing.assert_close(value, expected, rtol=0, atol=0, msg=name)


def test_16_mixed_logs_true_gradient_norms(tmp_path):
    _, reference = _fit(tmp_path, None)
    _, mixed = _fit(tmp_path, MixedPrecision("16-mixed", "cpu", scaler=_scaler()))
    for key in NORMS:
        # float16 forward passes: equal up to rounding (the loss scale would make them 65,536 times larger)
        torch.testing.assert_close(torch.tensor(mixed[key]), torch.tensor(reference[key]), rtol=0.05, atol=0.0)


def test_a_penalty_gradient_that_underflows_in_float16_survives_under_the_loss_scale():
    torch.manual_seed(0)
    linear = torch.nn.Linear(4, 1)
    with torch.no_grad():
        linear.weight.fill_(1e-4)  # d critic / dx = 1e-4 · 1e-4 = 1e-8, below float16's smallest subnormal

    def critic(x):
        return (linear(x) * 1e-4).squeeze(1)

    x = torch.randn(8, 4)
    exact = gradient_penalty(critic, x)  # float32: 4 · (1e-8)² per row
    torch.testing.assert_close(exact, torch.tensor(4e-16), rtol=1e-5, atol=0.0)
    with torch.autocast("cpu", dtype=torch.float16):
        unscaled = gradient_penalty(critic, x)
        # 2^14: a scale the GradScaler backs off to when 2^16 overflows float16 (its largest value is 65,504)
        scaled = gradient_penalty(critic, x, scale=torch.tensor(2.0**14))
    assert float(unscaled) == 0.0  # the cause: the inner gradient underflows
    torch.testing.assert_close(scaled, exact, rtol=1e-2, atol=0.0)


@pytest.mark.parametrize("scale", [None, 2.0**16])
def test_local_gradients_are_true_gradients_under_a_scaler(scale):
    from types import SimpleNamespace

    from mine_gan.optim import install_gradients, local_gradients, loss_scale

    scaler = _scaler() if scale else None
    plugin = SimpleNamespace(scaler=scaler)

    class Module:
        trainer = SimpleNamespace(strategy=SimpleNamespace(world_size=1), precision_plugin=plugin)

        def manual_backward(self, loss, **kwargs):
            (scaler.scale(loss) if scaler else loss).backward(**kwargs)

    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (grad,) = local_gradients(Module(), (3 * w).sum(), [w])
    torch.testing.assert_close(grad, torch.tensor([3.0, 3.0]), rtol=0, atol=0)
    install_gradients([w], [grad], loss_scale(Module(), grad))
    torch.testing.assert_close(w.grad, torch.tensor([3.0, 3.0]) * (scale or 1.0), rtol=0, atol=0)
