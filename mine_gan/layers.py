"""Small building blocks shared by critics and networks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu", "tanh"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


def activation(name: str) -> nn.Module:
    """Return a fresh activation module by name; ``ValueError`` naming the allowed values otherwise."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    return _ACTIVATIONS[name]()


def linear(in_dim: int, out_dim: int, spectral_norm: bool = False) -> nn.Linear:
    """``nn.Linear``, spectrally normalized (Miyato et al., ICLR 2018) when ``spectral_norm``."""
    layer = nn.Linear(in_dim, out_dim)
    return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer


def mlp(
    in_dim: int,
    hidden_dims: Sequence[int],
    out_dim: int,
    act: str = "relu",
    *,
    out_act: str | None = None,
    batch_norm: bool = False,
    spectral_norm: bool = False,
    dropout: float = 0.0,
) -> nn.Sequential:
    """Multi-layer perceptron ``in_dim → hidden_dims… → out_dim`` with ``act`` between layers.

    ``batch_norm`` puts a :class:`~torch.nn.BatchNorm1d` after each hidden linear layer (PacGAN's MLP
    generator); ``spectral_norm`` divides every linear layer's weight by its largest singular value
    (Miyato et al., ICLR 2018), which bounds a discriminator's Lipschitz constant. ``dropout`` zeroes each
    hidden unit with that probability in training (Srivastava et al., JMLR 2014).

    Example:
        >>> mlp(4, [8], 1)
        Sequential(
          (0): Linear(in_features=4, out_features=8, bias=True)
          (1): ReLU()
          (2): Linear(in_features=8, out_features=1, bias=True)
        )
    """
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim), *(("hidden_dims", h) for h in hidden_dims)):
        if int(value) <= 0:
            raise ValueError(f"`{name}` must be positive, got {value}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden_dims]
    for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
        normalization = [nn.BatchNorm1d(d_out)] if batch_norm else []
        regularization = [nn.Dropout(dropout)] if dropout > 0 else []
        layers += [linear(d_in, d_out, spectral_norm), *normalization, activation(act), *regularization]
    layers.append(linear(dims[-1], out_dim, spectral_norm))
    if out_act is not None:
        layers.append(activation(out_act))
    return nn.Sequential(*layers)
