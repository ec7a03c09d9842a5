"""Seeded random streams: one seed, many independent, reproducible streams (data, latents, evaluation)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["data_seed", "seeded_generator"]


def data_seed(seed: int | None) -> int:
    """A data module's seed: ``seed`` itself, or for ``None`` the run's seed (``torch.initial_seed()``).

    ``None`` makes the data stream follow the run: after ``seed_everything(k)`` (``mine-gan fit
    --seed_everything=k``, and each seed ``k`` of ``--seeds``, whose data module is built right after it) the
    data is drawn and ordered from seed ``k``. An integer fixes the stream whatever the run's seed, which is
    what the shipped configurations do (``data.init_args.seed: 0``): seeds then differ in initialization and
    training noise only, and a comparison of two methods is paired on the same data.

    Example:
        >>> data_seed(7)
        7
        >>> _ = torch.manual_seed(3); data_seed(None)
        3
    """
    return int(torch.initial_seed()) % 2**63 if seed is None else int(seed)


def seeded_generator(*words: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from a tuple of integers, e.g. ``(seed, split, epoch, rank)``.

    The words are hashed by :class:`numpy.random.SeedSequence`, so nearby tuples give independent
    streams (unlike ``seed + epoch``, where seed 1 epoch 0 would replay seed 0 epoch 1).

    Example:
        >>> a = torch.rand(2, generator=seeded_generator(0, 1))
        >>> torch.equal(a, torch.rand(2, generator=seeded_generator(0, 1)))
        True
        >>> torch.equal(a, torch.rand(2, generator=seeded_generator(1, 0)))
        False
    """
    state = np.random.SeedSequence([int(w) for w in words]).generate_state(2, dtype=np.uint32)
    return torch.Generator(device=device).manual_seed(int(state[0]) << 32 | int(state[1]))
