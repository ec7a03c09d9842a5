"""Shapes, ranges and configuration errors of the MLP and DCGAN networks."""

import math

import pytest
import torch

from mine_gan.nets import (
    IMAGE_SIZES,
    DCGANDiscriminator,
    DCGANEncoder,
    DCGANGenerator,
    MLPDiscriminator,
    MLPEncoder,
    MLPGenerator,
)

SIZES = sorted(IMAGE_SIZES)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_dcgan_shapes(size, channels):
    gen = DCGANGenerator(6, channels, size, base_channels=4)
    x = gen(torch.randn(3, 6))
    assert x.shape == (3, channels, size, size) and gen.x_shape == (channels, size, size)
    assert x.abs().max() <= 1  # tanh range, like the image data modules
    disc = DCGANDiscriminator(channels, size, base_channels=4, hidden_dim=8, code_dim=5)
    logits, code = disc.forward_with_code(x)
    assert logits.shape == (3,) and code.shape == (3, 5)
    torch.testing.assert_close(disc(x), logits)  # the code head shares the body: same logits
    joint = DCGANDiscriminator(channels, size, base_channels=4, hidden_dim=8, latent_dim=6)
    assert joint(x, torch.randn(3, 6)).shape == (3,)
    mean, log_std = DCGANEncoder(channels, size, latent_dim=6, base_channels=4, learn_std=True)(x)
    assert mean.shape == log_std.shape == (3, 6)


@pytest.mark.parametrize("cls", [DCGANGenerator, DCGANDiscriminator, DCGANEncoder])
@pytest.mark.parametrize("size", [8, 20, 128])
def test_unsupported_image_size_names_size_and_supported_sizes(cls, size):
    kwargs = {"image_size": size, "base_channels": 4}
    if cls is DCGANGenerator:
        kwargs["latent_dim"] = 4
    with pytest.raises(ValueError, match=rf"`image_size` {size} is not supported.*\[16, 28, 32, 64\]"):
        cls(**kwargs)


def test_conv_nets_reject_images_of_the_wrong_shape():
    disc = DCGANDiscriminator(1, 16, base_channels=4, hidden_dim=8)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, 16, 16\), got \(2, 3, 16, 16\)"):
        disc(torch.randn(2, 3, 16, 16))


def test_mlp_shapes_and_heads():
    gen = MLPGenerator(5, 2, hidden_dims=(8,))
    x = gen(torch.randn(4, 5))
    assert x.shape == (4, 2) and gen.latent_dim == 5 and gen.x_shape == (2,)
    disc = MLPDiscriminator(2, hidden_dims=(8, 8), code_dim=3)
    logits, code = disc.forward_with_code(x)
    assert logits.shape == (4,) and code.shape == (4, 3)
    torch.testing.assert_close(disc(x), logits)
    joint = MLPDiscriminator(2, hidden_dims=(8,), latent_dim=5)
    assert joint(x, torch.randn(4, 5)).shape == (4,)


@pytest.mark.parametrize("cls", [MLPDiscriminator, DCGANDiscriminator])
def test_joint_discriminator_needs_z(cls):
    disc = cls(latent_dim=3) if cls is MLPDiscriminator else cls(1, 16, base_channels=4, hidden_dim=8, latent_dim=3)
    x = torch.randn(2, *disc.x_shape)
    with pytest.raises(ValueError, match="joint, D\\(x, z\\): pass `z` of 3 features"):
        disc(x)


@pytest.mark.parametrize("cls", [MLPDiscriminator, DCGANDiscriminator])
def test_code_head_missing_is_reported(cls):
    disc = cls() if cls is MLPDiscriminator else cls(1, 16, base_channels=4, hidden_dim=8)
    with pytest.raises(ValueError, match="no code head"):
        disc.forward_with_code(torch.randn(2, *disc.x_shape))


def _encoders(**kwargs):
    return [
        (MLPEncoder(2, 3, hidden_dims=(8,), **kwargs), torch.randn(6, 2)),
        (DCGANEncoder(1, 16, latent_dim=3, base_channels=4, **kwargs), torch.randn(6, 1, 16, 16)),
    ]


@pytest.mark.parametrize("std", [0.1, 0.5, 0.9])
def test_fixed_encoder_std_is_returned_as_log_std(std):
    torch.manual_seed(0)
    for encoder, x in _encoders(std=std):
        mean, log_std = encoder(x)
        assert mean.shape == log_std.shape == (6, 3)
        torch.testing.assert_close(log_std, torch.full((6, 3), math.log(std)))
        # BiGAN samples z = μ + exp(log σ)·ε: the spread around the mean is σ.
        eps = torch.randn(20_000, 3)
        z = mean[0] + log_std[0].exp() * eps
        torch.testing.assert_close(z.std(0), torch.full((3,), std), rtol=0.03, atol=0)


def test_learned_encoder_std_depends_on_x_and_starts_around_std():
    torch.manual_seed(0)
    for encoder, x in _encoders(std=0.5, learn_std=True):
        mean, log_std = encoder(x)
        assert mean.shape == log_std.shape == (6, 3)
        assert log_std.std(0).min() > 0  # a function of x, not a constant
        # the learned head is an offset from log 0.5, so a zeroed last layer gives σ = 0.5 exactly
        head = encoder.net[-1] if isinstance(encoder, MLPEncoder) else encoder.out
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
        torch.testing.assert_close(encoder(x)[1], torch.full((6, 3), math.log(0.5)))


@pytest.mark.parametrize("std", [0.0, -0.5, 1.0, 1.5])
@pytest.mark.parametrize("cls", [MLPEncoder, DCGANEncoder])
def test_encoder_std_outside_open_unit_interval_is_refused(cls, std):
    kwargs = {"image_size": 16, "base_channels": 4} if cls is DCGANEncoder else {}
    with pytest.raises(ValueError, match=rf"`std` must be in \(0, 1\), got {std}"):
        cls(std=std, **kwargs)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (MLPGenerator, {"latent_dim": 0}, "`latent_dim` must be positive, got 0"),
        (MLPDiscriminator, {"code_dim": -1}, "`code_dim` must be >= 0, got -1"),
        (MLPDiscriminator, {"hidden_dims": ()}, "at least one layer"),
        (DCGANGenerator, {"latent_dim": 4, "out_channels": 0}, "`out_channels` must be >= 1, got 0"),
    ],
)
def test_bad_arguments_name_the_argument(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)
