"""MLP generator, discriminator and encoder for low-dimensional data (mixtures of Gaussians, spirals).

All networks expose the shapes they work on (``latent_dim``, ``x_shape``, ``code_dim``) so the GAN
modules can check a configuration before training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mine_gan import layers
from mine_gan.layers import Activation, mlp
from mine_gan.nets.heads import DiscriminatorHeads

__all__ = ["MLPDiscriminator", "MLPEncoder", "MLPGenerator"]


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

    Shape:
        ``(N, latent_dim)`` → ``(N, x_dim)``.

    Example:
        >>> import torch
        >>> MLPGenerator(4, 2, hidden_dims=(8,))(torch.randn(3, 4)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self, latent_dim: int, x_dim: int = 2, hidden_dims: Sequence[int] = (128, 128), activation: Activation = "relu"
    ) -> None:
        super().__init__()
        _check_dim("latent_dim", latent_dim)
        _check_dim("x_dim", x_dim)
        self.latent_dim = latent_dim
        self.x_shape: tuple[int, ...] = (x_dim,)
        self.net = mlp(latent_dim, list(hidden_dims), x_dim, activation)

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
            mlp(x_dim + latent_dim, list(hidden_dims[:-1]), hidden_dims[-1], activation), layers.activation(activation)
        )
        self.head = nn.Linear(hidden_dims[-1], 1)
        self.code_head = nn.Linear(hidden_dims[-1], code_dim) if code_dim > 0 else None

    def features(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        if self.latent_dim > 0:
            if z is None:
                raise ValueError(f"this discriminator is joint, D(x, z): pass `z` of {self.latent_dim} features")
            x = torch.cat([x, z], dim=1)
        return self.body(x)


class MLPEncoder(nn.Module):
    r"""Gaussian encoder ``q(z | x) = N(μ(x), σ(x)²)`` for BiGAN/ALI.

    With ``learn_std=False`` (the paper's choice, §5.2) σ = 1 is fixed, so the entropy ``H_q(z)`` is
    constant and maximizing ``I(x; z)`` tightens the reconstruction bound.

    Args:
        x_dim: features of ``x``.
        latent_dim: features of ``z``.
        hidden_dims: hidden widths.
        activation: hidden nonlinearity.
        learn_std: also output ``log σ(x)``; otherwise ``log σ = 0``.

    Shape:
        ``(N, x_dim)`` → ``(mean, log_std)``, each ``(N, latent_dim)``.

    Example:
        >>> import torch
        >>> mean, log_std = MLPEncoder(2, 3, hidden_dims=(8,))(torch.randn(4, 2))
        >>> mean.shape, bool((log_std == 0).all())
        (torch.Size([4, 3]), True)
    """

    def __init__(
        self,
        x_dim: int = 2,
        latent_dim: int = 8,
        hidden_dims: Sequence[int] = (128, 128),
        activation: Activation = "leaky_relu",
        learn_std: bool = False,
    ) -> None:
        super().__init__()
        _check_dim("x_dim", x_dim)
        _check_dim("latent_dim", latent_dim)
        self.x_shape: tuple[int, ...] = (x_dim,)
        self.latent_dim, self.learn_std = latent_dim, learn_std
        self.net = mlp(x_dim, list(hidden_dims), latent_dim * (2 if learn_std else 1), activation)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(x)
        if self.learn_std:
            mean, log_std = out.chunk(2, dim=1)
            return mean, log_std
        return out, torch.zeros_like(out)
