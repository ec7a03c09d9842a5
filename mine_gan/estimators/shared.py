"""How a model borrows an estimator that something else (a callback) owns and trains.

A model configured to take its MI term from a shared estimator looks through ``trainer.callbacks`` for
an object that satisfies :class:`SharedEstimatorProvider` and asks it for the estimator by pair name.
Models and callbacks thus depend on this small protocol only, never on each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from mine_gan.estimators.mine import MINE

__all__ = ["SharedEstimatorProvider", "find_shared_estimator"]


@runtime_checkable
class SharedEstimatorProvider(Protocol):
    """Anything that owns, trains and shares :class:`MINE` estimators by name."""

    def shared_estimator(self, name: str) -> MINE | None:
        """The estimator for the pair ``name``, or ``None`` if this provider has no such pair."""
        ...


def find_shared_estimator(callbacks: Iterable[object], name: str) -> MINE:
    """The estimator named ``name`` among ``callbacks``; ``ValueError`` listing what is there otherwise."""
    providers = [cb for cb in callbacks if isinstance(cb, SharedEstimatorProvider)]
    for provider in providers:
        estimator = provider.shared_estimator(name)
        if estimator is not None:
            return estimator
    raise ValueError(
        f"no callback shares an MI estimator named {name!r}; add a MutualInformationMonitor with a pair "
        f"named {name!r} to the Trainer's callbacks (found providers: {[type(p).__name__ for p in providers]})"
    )
