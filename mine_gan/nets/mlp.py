"""MLP generator, discriminator and encoder for low-dimensional data (mixtures of Gaussians, spirals).

All networks expose the shapes they work on (``latent_dim``, ``x_shape``, ``code_dim``) so the GAN
modules can check a configuration before training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mine_gan import layers
from mine_gan.layers import Activation, mlp
from mine_gan.nets.heads import DiscriminatorHeads

__all__ = ["MLPDiscriminator", "MLPEncoder", "MLPGenerator", "encoder_log_std", "gaussian_parameters"]


def _check_dim(name: str, value: int, *, allow_zero: bool = False) -> None:
    if int(value) < (0 if allow_zero else 1):
        raise ValueError(f"`{name}` must be {'>= 0' if allow_zero else 'positive'}, got {value}")


class MLPGenerator(nn.Module):
    """``G: R^latent_dim → R^x_dim``, an MLP with a linear output (data are not bounded).

    Args:
        latent_dim: input features (noise plus code for InfoGAN).
        x_dim: output features.
        hidden_dims: hidden widths.
        activation: hidden nonlinearity.
        batch_norm: batch normalization after each hidden layer (PacGAN's generator, Lin et al. 2018).

    Shape:
        ``(N, latent_dim)`` → ``(N, x_dim)``.

    Example:
        >>> import torch
        >>> MLPGenerator(4, 2, hidden_dims=(8,))(torch.randn(3, 4)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        latent_dim: int,
        x_dim: int = 2,
        hidden_dims: Sequence[int] = (128, 128),
        activation: Activation = "relu",
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        _check_dim("latent_dim", latent_dim)
        _check_dim("x_dim", x_dim)
        self.latent_dim = latent_dim
        self.x_shape: tuple[int, ...] = (x_dim,)
        self.net = mlp(latent_dim, list(hidden_dims), x_dim, activation, batch_norm=batch_norm)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(DiscriminatorHeads):
    """Discriminator ``D(x)`` or joint ``D(x, z)`` (BiGAN/ALI), with an optional code head ``Q(c | x)``.

    The body maps ``[x; z]`` (``z`` only when ``latent_dim > 0``) to features; a linear layer maps features
    to one logit; the optional code head maps the same features to ``code_dim`` outputs (InfoGAN's Q
    network shares the discriminator's body, Chen et al. 2016).

    Args:
        x_dim: features of ``x``.
        hidden_dims: hidden widths of the body (the last one is the feature width).
        activation: hidden nonlinearity.
        latent_dim: features of ``z`` for a joint discriminator; 0 for ``D(x)``.
        code_dim: outputs of the code head; 0 for none.
        spectral_norm: spectral normalization of every linear layer (Miyato et al., ICLR 2018).

    Shape:
        ``x``: ``(N, x_dim)``, ``z``: ``(N, latent_dim)`` → logits ``(N,)`` (and codes ``(N, code_dim)``).

    Example:
        >>> import torch
        >>> d = MLPDiscriminator(2, hidden_dims=(8,), code_dim=3)
        >>> logits, code = d.forward_with_code(torch.randn(5, 2))
        >>> logits.shape, code.shape
        (torch.Size([5]), torch.Size([5, 3]))
    """

    def __init__(
        self,
        x_dim: int = 2,
        hidden_dims: Sequence[int] = (128, 128),
        activation: Activation = "leaky_relu",
        latent_dim: int = 0,
        code_dim: int = 0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        _check_dim("x_dim", x_dim)
        _check_dim("latent_dim", latent_dim, allow_zero=True)
        _check_dim("code_dim", code_dim, allow_zero=True)
        if not hidden_dims:
            raise ValueError("`hidden_dims` must name at least one layer (the features the heads share)")
        self.x_shape: tuple[int, ...] = (x_dim,)
        self.latent_dim, self.code_dim = latent_dim, code_dim
        self.body = nn.Sequential(
            mlp(x_dim + latent_dim, list(hidden_dims[:-1]), hidden_dims[-1], activation, spectral_norm=spectral_norm),
            layers.activation(activation),
        )
        self.head = layers.linear(hidden_dims[-1], 1, spectral_norm)
        self.code_head = nn.Linear(hidden_dims[-1], code_dim) if code_dim > 0 else None

    def features(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        if self.latent_dim > 0:
            if z is None:
                raise ValueError(f"this discriminator is joint, D(x, z): pass `z` of {self.latent_dim} features")
            x = torch.cat([x, z], dim=1)
        return self.body(x)


def encoder_log_std(std: float) -> float:
    """``log σ`` of a Gaussian encoder's fixed (or initial) σ, after checking ``0 < σ < 1``.

    σ must lie below 1 for the aggregate posterior to be able to match the prior ``N(0, I)`` with an
    informative mean (see :class:`MLPEncoder`).

    Example:
        >>> round(encoder_log_std(0.5), 4)
        -0.6931
        >>> encoder_log_std(1.0)
        Traceback (most recent call last):
            ...
        ValueError: `std` must be in (0, 1), got 1.0: at σ = 1 the prior N(0, I) leaves no variance for μ(x)
    """
    if not 0.0 < float(std) < 1.0:
        raise ValueError(f"`std` must be in (0, 1), got {std}: at σ = 1 the prior N(0, I) leaves no variance for μ(x)")
    return math.log(std)


def gaussian_parameters(out: Tensor, learn_std: bool, log_std: float) -> tuple[Tensor, Tensor]:
    """Split an encoder's output into ``(mean, log σ)``, each ``(N, latent_dim)``.

    With ``learn_std`` the second half of ``out`` is an offset from ``log_std`` (so σ(x) starts near it);
    otherwise ``out`` is the mean and ``log σ = log_std`` everywhere.
    """
    if learn_std:
        mean, offset = out.chunk(2, dim=1)
        return mean, offset + log_std
    return out, torch.full_like(out, log_std)


class MLPEncoder(nn.Module):
    r"""Gaussian encoder ``q(z | x) = N(μ(x), σ²I)`` for BiGAN/ALI (Belghazi et al., 2018, §5.2).

    The reconstruction error of ALI is bounded by ``KL(q ‖ p) − I_q(x; z) + H_q(z)`` (§5.2), and the
    adversarial game drives the aggregate posterior ``q(z) = E_x q(z | x)`` to the prior ``N(0, I)``.
    Its covariance is ``Cov μ(x) + σ²I``, so matching the prior needs

    .. math:: \operatorname{Cov}_x \mu(x) = (1 - \sigma^2)\, I,
              \qquad I_q(x; z) = H_q(z) - \tfrac{d}{2}\log(2\pi e\,\sigma^2) \le -d \log \sigma .

    At σ = 1 the only match is a constant ``μ``, i.e. ``I(x; z) = 0``: the adversarial term then fights the MI
    term. With σ fixed below 1, ``H(z | x)`` is fixed, so ascending ``I(x; z)`` ascends ``H_q(z)`` up to the
    prior's entropy, where the bound on the right holds with equality (22 nats for ``d = 32``, σ = 0.5).

    Args:
        x_dim: features of ``x``.
        latent_dim: ``d``, features of ``z``.
        hidden_dims: hidden widths.
        activation: hidden nonlinearity.
        std: σ, in ``(0, 1)``; fixed unless ``learn_std``, then the value ``log σ(x)`` is learned around.
        learn_std: also output ``log σ(x)`` (as an offset from ``log std``; unbounded).

    Shape:
        ``(N, x_dim)`` → ``(mean, log_std)``, each ``(N, latent_dim)``.

    Example:
        >>> import torch
        >>> mean, log_std = MLPEncoder(2, 3, hidden_dims=(8,), std=0.5)(torch.randn(4, 2))
        >>> mean.shape, log_std.exp().unique()
        (torch.Size([4, 3]), tensor([0.5000]))
    """

    def __init__(
        self,
        x_dim: int = 2,
        latent_dim: int = 8,
        hidden_dims: Sequence[int] = (128, 128),
        activation: Activation = "leaky_relu",
        std: float = 0.5,
        learn_std: bool = False,
    ) -> None:
        super().__init__()
        _check_dim("x_dim", x_dim)
        _check_dim("latent_dim", latent_dim)
        self.log_std = encoder_log_std(std)
        self.x_shape: tuple[int, ...] = (x_dim,)
        self.latent_dim, self.std, self.learn_std = latent_dim, std, learn_std
        self.net = mlp(x_dim, list(hidden_dims), latent_dim * (2 if learn_std else 1), activation)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return gaussian_parameters(self.net(x), self.learn_std, self.log_std)
