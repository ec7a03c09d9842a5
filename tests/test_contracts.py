"""The Protocols callbacks check models and data modules against: who satisfies which, and the errors' words."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl

from mine_gan.callbacks import ModeHistogram, SamplePictures
from mine_gan.contracts import (
    CodeTraversal,
    MixtureData,
    MultiSeedModule,
    SampledData,
    Sampler,
    StackedDigitData,
    require,
)
from mine_gan.data import Digits, GaussianMixture, StackedDigits
from mine_gan.estimators import ConcatCritic
from mine_gan.models import BiGAN, InfoGAN
from mine_gan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator


def _infogan() -> InfoGAN:
    return InfoGAN(
        MLPGenerator(5, 2, hidden_dims=(8,)), MLPDiscriminator(2, hidden_dims=(8,)), noise_dim=2,
        categorical_dims=[], continuous_dim=3,
    )  # fmt: skip


def _bigan() -> BiGAN:
    return BiGAN(
        MLPGenerator(3, 2, hidden_dims=(8,)), MLPEncoder(2, 3, hidden_dims=(8,)),
        MLPDiscriminator(2, hidden_dims=(8,), latent_dim=3), critic=ConcatCritic(2, 3, hidden_dims=(8,)),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("make", "protocols"),
    [
        (_infogan, {Sampler, CodeTraversal, MultiSeedModule, SampledData}),  # a GAN draws samples like a density
        (_bigan, {Sampler, MultiSeedModule, SampledData}),
        (GaussianMixture, {MixtureData, SampledData}),
        (lambda: StackedDigits(image_size=8, num_samples=8, num_val_samples=8), {StackedDigitData}),
        (lambda: Digits(image_size=8), {StackedDigitData}),  # the classes tell stacks apart: see mode_metric
    ],
    ids=["infogan", "bigan", "mixture", "stacked_digits", "digits"],
)
def test_package_classes_satisfy_exactly_their_protocols(make, protocols):
    obj = make()
    every = {Sampler, CodeTraversal, MixtureData, MultiSeedModule, SampledData, StackedDigitData}
    assert {p for p in every if isinstance(obj, p)} == protocols


class _NoXShape(pl.LightningModule):
    def sample(self, n, rng=None):
        raise NotImplementedError


@pytest.mark.parametrize("callback", [SamplePictures(), ModeHistogram()], ids=["pictures", "histogram"])
@pytest.mark.parametrize(
    ("module", "missing"), [(pl.LightningModule(), "`sample`, `x_shape`"), (_NoXShape(), "`x_shape`")]
)
def test_callbacks_refuse_a_module_that_is_not_a_sampler_naming_what_it_lacks(callback, module, missing):
    trainer = pl.Trainer(accelerator="cpu", logger=False)
    message = rf"{type(callback).__name__} needs the module to be a Sampler .* lacks {missing}$"
    with pytest.raises(TypeError, match=message):
        callback.setup(trainer, module, "fit")


def test_require_accepts_what_satisfies_the_protocol():
    require(GaussianMixture(), MixtureData, "test", "the data")  # no error
