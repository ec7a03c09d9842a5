"""CUDA's rules about random streams and devices, enforced on a CPU-only machine.

Two facts break GPU runs that a CPU run never meets, and both can be reproduced here:

* A generator's state has its device type's size: 5,056 bytes on the CPU (Mersenne Twister), 16 on CUDA
  (Philox seed and offset). :func:`cuda_sized_states` fabricates the states a CUDA run saves.
* ``torch.randn(..., device=d, generator=g)`` raises on CUDA unless ``g`` lives on ``d``'s device type; the
  CPU and the ``meta`` device let it pass. :func:`strict_draws` makes torch's draws raise as CUDA does, so
  a module on ``meta`` (standing for the GPU) with a CPU generator fails here where it would fail there.
* torch has no ``meta`` generator. :func:`meta_generators` makes ``torch.Generator(device="meta")`` give a
  CPU generator that says it is on ``meta``: a stream that followed a module to ``meta`` can then be told
  from one left behind on the CPU (a CPU checkpoint resumed on a GPU).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import pytest
import torch

CUDA_STATE_BYTES = 16  # torch's CUDA generator state: the seed and the Philox offset, 8 bytes each


def cuda_sized_states(count: int) -> list[torch.Tensor]:
    """``count`` generator states of the size a CUDA run saves (seed 1, offset 0), as ``get_state`` gives them."""
    state = torch.zeros(CUDA_STATE_BYTES, dtype=torch.uint8)
    state[0] = 1
    return [state.clone() for _ in range(count)]


class _MetaGenerator(torch.Generator):
    """A CPU generator whose ``device`` says ``meta`` (draws on ``meta`` need no values)."""

    def __new__(cls, device: str | torch.device = "cpu"):
        return super().__new__(cls, "cpu")

    @property
    def device(self) -> torch.device:
        return torch.device("meta")


@contextlib.contextmanager
def meta_generators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Within the context, ``torch.Generator(device="meta")`` gives a generator that says it is on ``meta``."""
    real = torch.Generator

    class AnyGenerator(type(real)):
        def __instancecheck__(cls, instance) -> bool:  # torch's own isinstance checks see a real class
            return isinstance(instance, real)

    class Generator(real, metaclass=AnyGenerator):
        def __new__(cls, device: str | torch.device = "cpu"):
            return _MetaGenerator() if torch.device(device).type == "meta" else real(device)

    with monkeypatch.context() as patch:
        patch.setattr(torch, "Generator", Generator)
        yield


def _draw_device(args: tuple, kwargs: dict) -> torch.device:
    device = kwargs.get("device")
    if device is None:
        like = next((a for a in args if isinstance(a, torch.Tensor)), None)
        return like.device if like is not None else torch.device("cpu")
    return torch.device(device)


@contextlib.contextmanager
def strict_draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Within the context, torch's draws with a generator on another device type raise, as on CUDA.

    Yields the ``(draw device type, generator device type)`` of every draw made with a generator.
    """
    draws: list[tuple[str, str]] = []

    def strict(draw):
        @functools.wraps(draw)
        def checked(*args, **kwargs):
            generator = kwargs.get("generator")
            if generator is not None:
                device = _draw_device(args, kwargs)
                draws.append((device.type, generator.device.type))
                if device.type != generator.device.type:
                    raise RuntimeError(
                        f"Expected a '{device.type}' device type for generator but found '{generator.device.type}'"
                    )
            return draw(*args, **kwargs)

        return checked

    with monkeypatch.context() as patch:
        for name in ("randn", "rand", "randint", "randperm", "multinomial", "normal"):
            patch.setattr(torch, name, strict(getattr(torch, name)))
        yield draws
