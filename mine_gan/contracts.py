"""What callbacks, metrics and models need of each other, written once so that none imports the others.

Models and callbacks never import each other's internals (DESIGN.md). Where one uses the other, the names
it relies on are declared here: a constant (:data:`OUTPUTS_KEY`) and ``typing.runtime_checkable``
Protocols checked with ``isinstance``. An ``isinstance`` check of a Protocol sees that the attributes
exist, not their signatures; the signatures below are the contract a class signs up to. The contract of
an estimator shared by a callback with a model is :class:`mine_gan.estimators.SharedEstimatorProvider`.

This module imports nothing of the package, so any layer may depend on it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = [
    "OUTPUTS_KEY",
    "CodeTraversal",
    "MixtureData",
    "MultiSeedModule",
    "SampledData",
    "Sampler",
    "StackedDigitData",
    "missing_members",
    "require",
]

OUTPUTS_KEY = "mi"
"""Key of the ``{pair name: (a, b)}`` dict that a ``training_step`` / ``validation_step`` returns for
:class:`~mine_gan.callbacks.MutualInformationMonitor`: ``return {"loss": loss, OUTPUTS_KEY: {"code": (x, c)}}``.
The monitor logs pair ``name`` as ``<OUTPUTS_KEY>/<name>``."""


@runtime_checkable
class Sampler(Protocol):
    """A generative model (the GAN modules): ``sample(n, rng)`` draws ``(n, *x_shape)`` samples.

    ``rng`` (second, positional) is the ``torch.Generator`` the latents are drawn from, so that a
    caller fixes the samples without touching the global random stream; ``None`` draws from the global one.
    """

    x_shape: tuple[int, ...]

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """``(n, *x_shape)`` samples."""
        ...


@runtime_checkable
class CodeTraversal(Protocol):
    """A model with a latent code (InfoGAN): ``code_traversal(steps)`` gives ``(rows, steps, *x_shape)``,
    one row per code dimension varied over ``steps`` values with the noise and the rest of the code fixed."""

    def code_traversal(self, steps: int, rng: torch.Generator | None = None) -> Tensor:
        """``(rows, steps, *x_shape)`` samples."""
        ...


@runtime_checkable
class MultiSeedModule(Protocol):
    """A module that may train several seeds as one batched model (``mine-gan fit --seeds``, the GAN modules):
    ``num_seeds`` of them, their ``seeds``, and ``seed_module(k)``, seed number ``k`` as a module of its own."""

    num_seeds: int
    seeds: list[int]

    def seed_module(self, index: int) -> Any:
        """Seed number ``index``'s module (``self`` for one seed)."""
        ...


@runtime_checkable
class MixtureData(Protocol):
    """Data drawn from a mixture of isotropic Gaussians of equal weight (:class:`~mine_gan.data.GaussianMixture`):
    ``centers`` ``(K, D)`` and the components' standard deviation ``std``."""

    centers: Tensor
    std: float


@runtime_checkable
class SampledData(Protocol):
    """A data module over a density with an exact sampler (:class:`~mine_gan.data.SampledDataModule`):
    ``sample(n, rng)`` draws ``(n, *dims)`` real samples."""

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """``(n, *dims)`` samples."""
        ...


@runtime_checkable
class StackedDigitData(Protocol):
    """Images of ``C`` digits stacked as channels (:class:`~mine_gan.data.StackedMNIST5k`): ``num_classes``
    is ``10^C``, one class per stack; ``image_size`` is the side of the square images."""

    num_classes: int
    image_size: int


def missing_members(obj: Any, protocol: type) -> list[str]:
    """The names ``protocol`` declares that ``obj`` lacks (an empty list when ``isinstance`` holds).

    Example:
        >>> missing_members(object(), MixtureData)
        ['centers', 'std']
    """
    names = {*vars(protocol).get("__annotations__", {}), *(k for k, v in vars(protocol).items() if callable(v))}
    return sorted(name for name in names if not name.startswith("_") and not hasattr(obj, name))


def require(obj: Any, protocol: type, user: str, what: str) -> None:
    """Raise ``TypeError`` naming what ``obj`` lacks when it is not a ``protocol``.

    Args:
        obj: the object checked.
        protocol: a ``runtime_checkable`` Protocol of this module.
        user: who needs it, for the message (``"SamplePictures"``).
        what: what ``obj`` is, for the message (``"the module"``).

    Example:
        >>> require(object(), Sampler, "SamplePictures", "the module")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: SamplePictures needs the module to be a Sampler (...); object lacks `sample`, `x_shape`
    """
    if isinstance(obj, protocol):
        return
    missing = ", ".join(f"`{name}`" for name in missing_members(obj, protocol))
    raise TypeError(
        f"{user} needs {what} to be a {protocol.__name__} ({_DESCRIPTIONS.get(protocol, '')}); "
        f"{type(obj).__name__} lacks {missing}"
    )


_DESCRIPTIONS: dict[type, str] = {
    Sampler: "`sample(n, rng)` and `x_shape`, a GAN module",
    CodeTraversal: "`code_traversal(steps, rng)`, an InfoGAN",
    MixtureData: "`centers` and `std`, a Gaussian mixture",
    MultiSeedModule: "`num_seeds`, `seeds` and `seed_module(k)`, a GAN module",
    SampledData: "`sample(n, rng)`, a data module with an exact sampler",
    StackedDigitData: "`num_classes` and `image_size`, stacked digits",
}
