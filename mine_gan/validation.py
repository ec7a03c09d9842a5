"""Input checks shared by the estimators, metrics, callbacks and regularizers.

Errors name the argument and what was wrong with it, before any training starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "as_tensor",
    "check_choice",
    "check_datamodule_shape",
    "check_paired",
    "check_positive",
    "check_unit_interval",
]


def check_choice(name: str, value: Any, allowed: tuple[Any, ...] | list[Any]) -> None:
    """``ValueError`` naming ``name``, ``value`` and the allowed values unless ``value in allowed``."""
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}, got {value!r}")


def check_positive(name: str, value: float, *, strict: bool = True) -> None:
    ok = value > 0 if strict else value >= 0
    if not ok:
        raise ValueError(f"`{name}` must be {'>' if strict else '>='} 0, got {value}")


def check_unit_interval(name: str, value: float, *, closed_right: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed_right else 0.0 <= value < 1.0
    if not ok:
        raise ValueError(f"`{name}` must be in [0, 1{']' if closed_right else ')'}, got {value}")


def as_tensor(name: str, value: Any, dtype: torch.dtype | None = None) -> Tensor:
    """Convert arrays and tensors to a floating tensor (integers and float64 become ``dtype``)."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    elif not isinstance(value, Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"`{name}` must be a tensor or array, got {type(value).__name__}") from err
    if value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f"`{name}` must hold real numbers, got dtype {value.dtype}")
    if dtype is not None:
        return value.to(dtype)
    return value if value.is_floating_point() else value.to(torch.get_default_dtype())


def check_paired(
    x: Tensor,
    z: Tensor,
    *,
    names: tuple[str, str] = ("x", "z"),
    flat: bool = False,
    min_samples: int = 2,
    check_finite: bool = True,
) -> None:
    """Check that ``x`` and ``z`` are paired samples: same first dimension, finite values.

    Args:
        x, z: tensors with the sample dimension first.
        names: how to call them in messages.
        flat: require ``(N,)`` or ``(N, D)`` tensors.
        min_samples: the fewest samples accepted.
        check_finite: reject NaN and ±inf (costs a device sync; skip it in training loops).
    """
    for name, t in zip(names, (x, z), strict=True):
        if not isinstance(t, Tensor):
            raise TypeError(f"`{name}` must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim == 0:
            raise ValueError(f"`{name}` must have a sample dimension, got a scalar")
        if flat and t.ndim > 2:
            raise ValueError(
                f"`{name}` must be (N,) or (N, D) here, got shape {tuple(t.shape)}; flatten it first "
                f"(e.g. `{name}.flatten(1)`) or use a critic for images"
            )
    if x.shape[0] != z.shape[0]:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must hold the same number of samples, got shapes "
            f"{tuple(x.shape)} and {tuple(z.shape)}"
        )
    if x.shape[0] < min_samples:
        raise ValueError(f"need at least {min_samples} paired samples, got {x.shape[0]}")
    if check_finite:
        for name, t in zip(names, (x, z), strict=True):
            if not bool(torch.isfinite(t).all()):
                bad = int((~torch.isfinite(t)).sum())
                raise ValueError(f"`{name}` contains {bad} NaN or infinite value(s)")


def check_datamodule_shape(datamodule: Any, x_shape: tuple[int, ...], model_name: str) -> None:
    """Fail before training when a data module's sample shape ``dims`` is not the model's ``x_shape``."""
    dims = getattr(datamodule, "dims", None)
    if dims is not None and tuple(dims) != tuple(x_shape):
        raise ValueError(
            f"the data module {type(datamodule).__name__} yields samples of shape dims={tuple(dims)}, but "
            f"{model_name}'s networks produce x_shape={tuple(x_shape)}; configure the networks for "
            f"{tuple(dims)} (or the data module for {tuple(x_shape)})"
        )
