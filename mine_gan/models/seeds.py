"""Several seeds of one GAN module trained as one batched model (``mine-gan fit --seeds 0,1,2``).

:func:`stack_seeds` turns ``S`` modules of one configuration, each built under its own seed, into one
module whose networks are :class:`~mine_gan.nets.SeedStack` s. The module's own training step then runs
on seed-major batches of ``S·B`` rows: every network call evaluates each seed's network on its rows,
every random draw comes from the seed's own stream, every loss and MINE's bound and moving average are
per seed, and the eq. 21 clip uses each seed's norms. Seed ``k`` therefore takes the steps its single run
``mine-gan fit --seed_everything=k`` takes, up to the rounding of batched arithmetic; no training logic is
written a second time. :func:`unstack_seed` gives one seed back as a module of its own.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from mine_gan.contracts import MultiSeedModule
from mine_gan.estimators import MINE
from mine_gan.nets.stack import SeedStack

if TYPE_CHECKING:  # gan.py imports this module (seed_module); the type is only named here
    from mine_gan.models.gan import GANModule

__all__ = ["stack_seeds", "unstack_seed"]


def _has_state(module: nn.Module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def stack_seeds(modules: Sequence[GANModule], seeds: Sequence[int]) -> GANModule:
    """One module training ``modules`` (one per seed, same configuration) together; ``modules`` are left as they are.

    Args:
        modules: ``S`` GAN modules, each built (its networks initialized) under its seed, not yet trained.
        seeds: their seeds, distinct: seed ``k``'s random stream is seeded with ``k`` as in a single run.

    Returns:
        The multi-seed module. It logs ``seed_<k>/<stage>/<name>`` for each seed and
        :meth:`~mine_gan.models.GANModule.seed_module` gives one seed as a module of its own.
    """
    seeds = [int(s) for s in seeds]
    if len(modules) != len(seeds) or not seeds:
        raise ValueError(f"one module per seed is needed, got {len(modules)} modules for seeds {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be distinct, got {seeds}")
    first = modules[0]
    if not isinstance(first, MultiSeedModule) or any(type(m) is not type(first) for m in modules):
        raise TypeError(f"--seeds trains GAN modules of one class, got {sorted({type(m).__name__ for m in modules})}")
    if getattr(first, "mi_source", "own") == "shared":
        raise ValueError("`seeds` cannot stack a borrowed estimator (mi_source='shared'): use mi_source='own'")
    if any(m.num_seeds != 1 or m._iteration for m in modules):
        raise ValueError("--seeds stacks fresh single-seed modules")
    host = copy.deepcopy(first)  # becomes the stack; its networks are replaced below
    host.__dict__["_prototype"] = copy.deepcopy(first)  # unstacked layout, not a submodule (not saved or moved)
    for name, child in list(host.named_children()):
        others = [getattr(m, name) for m in modules]
        if isinstance(child, MINE):
            child.critic = SeedStack([o.critic for o in others])
            child.log_ema = torch.stack([o.log_ema for o in others]).clone()  # one moving average per seed
        elif _has_state(child):
            setattr(host, name, SeedStack(others))
    host.num_seeds = len(seeds)
    host._seeds, host._streams = seeds, None
    return host


def unstack_seed(module: GANModule, index: int) -> GANModule:
    """Seed number ``index`` of a multi-seed ``module`` as a single-seed module (copies of its state)."""
    if not 0 <= index < module.num_seeds:
        raise IndexError(f"`index` must be in [0, {module.num_seeds}), got {index}")
    single = copy.deepcopy(module.__dict__["_prototype"])
    reference = next(module.parameters())
    single.to(device=reference.device, dtype=reference.dtype)
    for name, child in module.named_children():
        if isinstance(child, SeedStack):
            setattr(single, name, child.network(index))
        elif isinstance(child, MINE) and isinstance(child.critic, SeedStack):
            target = getattr(single, name)
            target.critic = child.critic.network(index)
            target.log_ema = child.log_ema[index].clone()
    streams = module.random_stream
    single._seeds = [module.seeds[index]]
    single._streams = [torch.Generator(device=reference.device).set_state(streams[index].get_state())]
    single._iteration = module._iteration
    single.train(module.training)
    return single
