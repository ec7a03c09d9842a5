"""DCGAN-style convolutional generator, discriminator and encoder (Radford et al., 2016).

Images are ``(N, C, S, S)`` in ``[-1, 1]`` (tanh range) with ``S`` one of :data:`IMAGE_SIZES`: each size
is reached from a small base grid by stride-2 (transposed) convolutions with 4×4 kernels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mine_gan.nets.heads import DiscriminatorHeads
from mine_gan.nets.mlp import encoder_log_std, gaussian_parameters

__all__ = ["IMAGE_SIZES", "DCGANDiscriminator", "DCGANEncoder", "DCGANGenerator"]

#: image size → (base grid, number of stride-2 stages)
IMAGE_SIZES: dict[int, tuple[int, int]] = {16: (4, 2), 28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _stages(image_size: int) -> tuple[int, int]:
    if image_size not in IMAGE_SIZES:
        raise ValueError(
            f"`image_size` {image_size} is not supported by the DCGAN networks; supported sizes: {sorted(IMAGE_SIZES)}"
        )
    return IMAGE_SIZES[image_size]


def _check(name: str, value: int, minimum: int = 1) -> None:
    if int(value) < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")


class _ConvBody(nn.Module):
    """Stride-2 4×4 convolutions with leaky ReLU, ``S → base grid``, flattened."""

    def __init__(self, in_channels: int, image_size: int, base_channels: int) -> None:
        super().__init__()
        base, stages = _stages(image_size)
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(stages):
            out = base_channels * 2**i
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels = out
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_features = channels * base * base
        self.in_channels, self.image_size = in_channels, image_size

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError(
                f"expected images of shape (N, {self.in_channels}, {self.image_size}, {self.image_size}), "
                f"got {tuple(x.shape)}"
            )
        return self.net(x)


class DCGANGenerator(nn.Module):
    """``G: R^latent_dim → [-1, 1]^(C×S×S)``: linear projection to a base grid, then transposed convolutions.

    Args:
        latent_dim: input features (noise plus code for InfoGAN).
        out_channels: image channels (1 or 3).
        image_size: ``S``, one of 16, 28, 32, 64.
        base_channels: channels of the last hidden stage (doubled per earlier stage).

    Shape:
        ``(N, latent_dim)`` → ``(N, out_channels, S, S)``.

    Example:
        >>> import torch
        >>> DCGANGenerator(8, 1, 28, base_channels=4)(torch.randn(2, 8)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(self, latent_dim: int, out_channels: int = 1, image_size: int = 32, base_channels: int = 64) -> None:
        super().__init__()
        base, stages = _stages(image_size)
        _check("latent_dim", latent_dim)
        _check("out_channels", out_channels)
        _check("base_channels", base_channels)
        self.latent_dim = latent_dim
        self.x_shape: tuple[int, ...] = (out_channels, image_size, image_size)
        channels = base_channels * 2 ** (stages - 1)
        self.base, self.base_channels_in = base, channels
        self.project = nn.Sequential(
            nn.Linear(latent_dim, channels * base * base), nn.BatchNorm1d(channels * base * base), nn.ReLU()
        )
        layers: list[nn.Module] = []
        for _i in range(stages - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1), nn.BatchNorm2d(channels // 2), nn.ReLU()]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, out_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(-1, self.base_channels_in, self.base, self.base)
        return self.net(h)


class DCGANDiscriminator(DiscriminatorHeads):
    """Conv discriminator ``D(x)`` or joint ``D(x, z)`` (BiGAN/ALI), with an optional code head ``Q(c | x)``.

    The conv body and a hidden linear layer give shared features; a linear head gives the logit and the
    optional code head ``code_dim`` outputs (InfoGAN's Q shares the discriminator's body, Chen et al. 2016).
    A joint discriminator concatenates ``z`` to the conv features before the hidden layer.

    Args:
        in_channels: image channels (1 or 3).
        image_size: ``S``, one of 16, 28, 32, 64.
        base_channels: channels of the first conv stage (doubled per stage).
        hidden_dim: width of the shared hidden layer.
        latent_dim: features of ``z`` for a joint discriminator; 0 for ``D(x)``.
        code_dim: outputs of the code head; 0 for none.

    Example:
        >>> import torch
        >>> d = DCGANDiscriminator(3, 16, base_channels=4, hidden_dim=8, latent_dim=5)
        >>> d(torch.randn(2, 3, 16, 16), torch.randn(2, 5)).shape
        torch.Size([2])
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 32,
        base_channels: int = 64,
        hidden_dim: int = 256,
        latent_dim: int = 0,
        code_dim: int = 0,
    ) -> None:
        super().__init__()
        _check("in_channels", in_channels)
        _check("hidden_dim", hidden_dim)
        _check("latent_dim", latent_dim, 0)
        _check("code_dim", code_dim, 0)
        self.x_shape: tuple[int, ...] = (in_channels, image_size, image_size)
        self.latent_dim, self.code_dim = latent_dim, code_dim
        self.conv = _ConvBody(in_channels, image_size, base_channels)
        self.hidden = nn.Sequential(nn.Linear(self.conv.out_features + latent_dim, hidden_dim), nn.LeakyReLU(0.2))
        self.head = nn.Linear(hidden_dim, 1)
        self.code_head = nn.Linear(hidden_dim, code_dim) if code_dim > 0 else None

    def features(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        h = self.conv(x)
        if self.latent_dim > 0:
            if z is None:
                raise ValueError(f"this discriminator is joint, D(x, z): pass `z` of {self.latent_dim} features")
            h = torch.cat([h, z], dim=1)
        return self.hidden(h)


class DCGANEncoder(nn.Module):
    r"""Gaussian conv encoder ``q(z | x) = N(μ(x), σ²I)`` for BiGAN/ALI (Belghazi et al., 2018, §5.2).

    σ is fixed below 1 so that the aggregate posterior can match the prior ``N(0, I)`` with an informative
    mean, and so that ascending ``I(x; z)`` ascends ``H_q(z)`` (the reasoning is spelled out in
    :class:`~mine_gan.nets.MLPEncoder`):

    .. math:: \operatorname{Cov}_x \mu(x) = (1 - \sigma^2)\, I, \qquad I_q(x; z) \le -d \log \sigma .

    Args:
        in_channels: image channels (1 or 3).
        image_size: ``S``, one of 16, 28, 32, 64.
        latent_dim: ``d``, features of ``z``.
        base_channels: channels of the first conv stage (doubled per stage).
        std: σ, in ``(0, 1)``; fixed unless ``learn_std``, then the value ``log σ(x)`` is learned around.
        learn_std: also output ``log σ(x)`` (as an offset from ``log std``; unbounded).

    Shape:
        ``(N, C, S, S)`` → ``(mean, log_std)``, each ``(N, latent_dim)``.

    Example:
        >>> import torch
        >>> mean, log_std = DCGANEncoder(1, 16, latent_dim=3, base_channels=4, std=0.5)(torch.randn(2, 1, 16, 16))
        >>> mean.shape, log_std.exp().unique()
        (torch.Size([2, 3]), tensor([0.5000]))
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 32,
        latent_dim: int = 64,
        base_channels: int = 64,
        std: float = 0.5,
        learn_std: bool = False,
    ) -> None:
        super().__init__()
        _check("in_channels", in_channels)
        _check("latent_dim", latent_dim)
        self.log_std = encoder_log_std(std)
        self.x_shape: tuple[int, ...] = (in_channels, image_size, image_size)
        self.latent_dim, self.std, self.learn_std = latent_dim, std, learn_std
        self.conv = _ConvBody(in_channels, image_size, base_channels)
        self.out = nn.Linear(self.conv.out_features, latent_dim * (2 if learn_std else 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return gaussian_parameters(self.out(self.conv(x)), self.learn_std, self.log_std)
