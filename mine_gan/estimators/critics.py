"""Statistics networks (critics) ``T(x, z)`` for MINE and the other variational bounds.

A critic is any ``nn.Module`` whose ``forward(x, z)`` maps ``N`` paired samples to ``N`` scores. A critic
may also define ``pairwise(x, z) -> (N, N)`` (``scores[i, j] = T(x_i, z_j)``) when it can do better than
evaluating all ``N²`` pairs one by one; :class:`SeparableCritic` does it with one matrix product. Likewise
``joint_and_marginal(x, z, z_marginal) -> ((N,), (N,))`` scores each ``x_i`` against ``z_i`` and against a
shuffled partner ``z'_i``: :class:`ConvCritic` encodes each image once for both instead of twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mine_gan import layers
from mine_gan.layers import Activation, mlp

__all__ = ["ConcatCritic", "ConvCritic", "SeparableCritic", "joint_and_marginal_scores", "pairwise_scores"]


def _flat(name: str, t: Tensor) -> Tensor:
    if t.ndim == 1:
        return t.unsqueeze(1)
    if t.ndim != 2:
        raise ValueError(f"`{name}` must be (N, D) for this critic, got shape {tuple(t.shape)}")
    return t


class ConcatCritic(nn.Module):
    r"""MLP on the concatenation ``[x, z]``, the statistics network of Belghazi et al. 2018.

    .. math:: T(x, z) = \mathrm{MLP}([x; z])

    Args:
        x_dim: features of ``x``.
        z_dim: features of ``z``.
        hidden_dims: widths of the hidden layers.
        activation: hidden nonlinearity.

    Shape:
        ``x``: ``(N, x_dim)``, ``z``: ``(N, z_dim)`` → ``(N,)``.

    Example:
        >>> import torch
        >>> critic = ConcatCritic(3, 2, hidden_dims=(16,))
        >>> critic(torch.randn(5, 3), torch.randn(5, 2)).shape
        torch.Size([5])
    """

    def __init__(
        self, x_dim: int, z_dim: int, hidden_dims: Sequence[int] = (256, 256), activation: Activation = "relu"
    ) -> None:
        super().__init__()
        self.x_dim, self.z_dim = x_dim, z_dim
        self.net = mlp(x_dim + z_dim, list(hidden_dims), 1, activation)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.net(torch.cat([_flat("x", x), _flat("z", z)], dim=1)).squeeze(1)


class SeparableCritic(nn.Module):
    r"""Separable critic ``g(x)ᵀ h(z)`` (Poole et al. 2019, §2): all ``N²`` scores in one matrix product.

    .. math:: T(x, z) = g(x)^\top h(z) / \sqrt{k}

    The natural partner of InfoNCE. Less expressive than :class:`ConcatCritic` for DV-type bounds,
    which also need the terms in ``x`` and ``z`` alone.

    Args:
        x_dim: features of ``x``.
        z_dim: features of ``z``.
        embed_dim: ``k``, the dimension of ``g(x)`` and ``h(z)``.
        hidden_dims: hidden widths of both ``g`` and ``h``.
        activation: hidden nonlinearity.

    Example:
        >>> import torch
        >>> critic = SeparableCritic(3, 2, embed_dim=8, hidden_dims=(16,))
        >>> critic.pairwise(torch.randn(5, 3), torch.randn(5, 2)).shape
        torch.Size([5, 5])
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        embed_dim: int = 32,
        hidden_dims: Sequence[int] = (256,),
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        self.x_dim, self.z_dim = x_dim, z_dim
        self.g = mlp(x_dim, list(hidden_dims), embed_dim, activation)
        self.h = mlp(z_dim, list(hidden_dims), embed_dim, activation)
        self.scale = embed_dim**-0.5

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return (self.g(_flat("x", x)) * self.h(_flat("z", z))).sum(dim=1) * self.scale

    def pairwise(self, x: Tensor, z: Tensor) -> Tensor:
        return self.g(_flat("x", x)) @ self.h(_flat("z", z)).T * self.scale


class ConvCritic(nn.Module):
    r"""Critic for images: a small conv net encodes ``x``, ``z`` joins late, an MLP scores the pair.

    .. math:: T(x, z) = \mathrm{MLP}([\mathrm{CNN}(x); z])

    Args:
        in_channels: image channels (1 or 3).
        image_size: height = width of ``x``; any size ≥ 8.
        z_dim: features of ``z``.
        base_channels: channels of the first conv layer (doubled at each of three stride-2 layers).
        hidden_dims: widths of the head MLP.
        activation: nonlinearity.

    Shape:
        ``x``: ``(N, C, H, W)``, ``z``: ``(N, z_dim)`` → ``(N,)``.

    Example:
        >>> import torch
        >>> critic = ConvCritic(1, 16, z_dim=4, base_channels=8)
        >>> critic(torch.randn(2, 1, 16, 16), torch.randn(2, 4)).shape
        torch.Size([2])
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        z_dim: int,
        base_channels: int = 32,
        hidden_dims: Sequence[int] = (256,),
        activation: Activation = "leaky_relu",
    ) -> None:
        super().__init__()
        if image_size < 8:
            raise ValueError(f"`image_size` must be >= 8, got {image_size}")
        self.in_channels, self.image_size, self.z_dim = in_channels, image_size, z_dim
        blocks: list[nn.Module] = []
        channels = in_channels
        for i in range(3):
            out = base_channels * 2**i
            blocks += [nn.Conv2d(channels, out, 4, stride=2, padding=1), layers.activation(activation)]
            channels = out
        self.encoder = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = mlp(channels * 4 + z_dim, list(hidden_dims), 1, activation)

    def _encode(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"`x` must be (N, {self.in_channels}, H, W) images for ConvCritic, got shape {tuple(x.shape)}"
            )
        return self.encoder(x)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.head(torch.cat([self._encode(x), _flat("z", z)], dim=1)).squeeze(1)

    def joint_and_marginal(self, x: Tensor, z: Tensor, z_marginal: Tensor) -> tuple[Tensor, Tensor]:
        # MINE's shuffled marginal pairs the same images with permuted codes: the convolutions, most of the
        # critic's cost, run (forward and backward) on N images instead of 2N.
        features = self._encode(x)
        both = torch.cat([torch.cat([features, _flat("z", z)], dim=1),
                          torch.cat([features, _flat("z_marginal", z_marginal)], dim=1)])  # fmt: skip
        scores = self.head(both).squeeze(1)
        return scores[: x.shape[0]], scores[x.shape[0] :]

    def pairwise(self, x: Tensor, z: Tensor) -> Tensor:
        # Encode each image once, not N times.
        features = self._encode(x)
        n = features.shape[0]
        z = _flat("z", z)
        pairs = torch.cat([features.repeat_interleave(n, dim=0), z.repeat(n, 1)], dim=1)
        return self.head(pairs).view(n, n)


def joint_and_marginal_scores(critic: nn.Module, x: Tensor, z: Tensor, z_marginal: Tensor) -> tuple[Tensor, Tensor]:
    """Scores ``T(x_i, z_i)`` and ``T(x_i, z'_i)``, ``(N,)`` each, by ``critic.joint_and_marginal`` when it has one.

    Otherwise one call of the critic on the ``2N`` pairs ``[x; x]`` against ``[z; z']``.

    Example:
        >>> import torch
        >>> critic = ConvCritic(1, 8, z_dim=2, base_channels=4)
        >>> x, z = torch.randn(3, 1, 8, 8), torch.randn(3, 2)
        >>> joint, marginal = joint_and_marginal_scores(critic, x, z, z.flip(0))
        >>> torch.allclose(marginal, critic(x, z.flip(0)), atol=1e-6)
        True
    """
    method = getattr(critic, "joint_and_marginal", None)
    if callable(method):
        return method(x, z, z_marginal)
    both = critic(torch.cat([x, x]), torch.cat([z, z_marginal]))
    return both[: x.shape[0]], both[x.shape[0] :]


def pairwise_scores(critic: nn.Module, x: Tensor, z: Tensor) -> Tensor:
    """All ``N²`` scores ``S[i, j] = T(x_i, z_j)``, through ``critic.pairwise`` when it has one.

    Example:
        >>> import torch
        >>> critic = ConcatCritic(1, 1, hidden_dims=(4,))
        >>> x, z = torch.randn(3, 1), torch.randn(3, 1)
        >>> torch.allclose(pairwise_scores(critic, x, z).diagonal(), critic(x, z))
        True
    """
    pairwise = getattr(critic, "pairwise", None)
    if callable(pairwise):
        return pairwise(x, z)
    n = x.shape[0]
    xs = x.repeat_interleave(n, dim=0)
    zs = z.repeat((n,) + (1,) * (z.ndim - 1))
    return critic(xs, zs).view(n, n)
