"""Adaptive gradient clipping of an MI term against a main loss (Belghazi et al., ICML 2018, eq. 21)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["adaptive_clip", "global_norm"]


def global_norm(grads: Sequence[Tensor | None], stacked: bool = False) -> Tensor:
    r"""Frobenius norm over a sequence of per-parameter gradients (``None`` entries count as zero).

    .. math:: \|g\| = \sqrt{\textstyle\sum_k \|g_k\|_F^2}

    Args:
        grads: one gradient (or ``None``) per parameter.
        stacked: every tensor stacks ``S`` independent models (seeds) along dim 0: one norm per model, ``(S,)``.

    Example:
        >>> import torch
        >>> global_norm([torch.tensor([3.0]), None, torch.tensor([[4.0]])])
        tensor(5.)
        >>> global_norm([torch.tensor([[3.0], [0.0]]), torch.tensor([[4.0], [1.0]])], stacked=True)
        tensor([5., 1.])
    """
    present = [g for g in grads if g is not None]
    if not present:
        return torch.tensor(0.0)
    if stacked:
        return torch.linalg.vector_norm(torch.stack([g.flatten(1).norm(dim=1) for g in present]), dim=0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in present]))


def adaptive_clip(
    adv_grads: Sequence[Tensor | None], mi_grads: Sequence[Tensor | None], stacked: bool = False
) -> list[Tensor | None]:
    r"""Rescale the MI gradient so that its norm never exceeds the adversarial gradient's (eq. 21).

    .. math:: g_a = \min(\|g_u\|, \|g_m\|)\, \frac{g_m}{\|g_m\|}

    Norms are Frobenius norms over all parameters together. The caller steps on ``g_u + β g_a``.
    A zero ``g_m`` gives zero; a zero ``g_u`` gives zero (the MI term may not act alone).

    Args:
        adv_grads: ``g_u``, one gradient (or ``None``) per parameter.
        mi_grads: ``g_m``, aligned with ``adv_grads``.
        stacked: every tensor stacks ``S`` independent models (seeds) along dim 0: each is clipped by its
            own norms, as it would be alone.

    Returns:
        ``g_a``, aligned with ``mi_grads`` (``None`` where ``mi_grads`` has ``None``).

    Example:
        >>> import torch
        >>> adaptive_clip([torch.tensor([0.0, 1.0])], [torch.tensor([3.0, 4.0])])
        [tensor([0.6000, 0.8000])]
    """
    if len(adv_grads) != len(mi_grads):
        raise ValueError(
            f"`adv_grads` and `mi_grads` must align parameter by parameter, got {len(adv_grads)} "
            f"and {len(mi_grads)} tensors"
        )
    norm_u = global_norm(adv_grads, stacked)
    norm_m = global_norm(mi_grads, stacked)
    # min(|g_u|, |g_m|) / |g_m|, with 0/0 := 0 and without a host sync.
    scale = torch.where(norm_m > 0, torch.minimum(norm_u, norm_m) / norm_m.clamp_min(1e-30), 0.0)
    if stacked:
        return [None if g is None else g * scale.to(g.dtype).view(-1, *[1] * (g.ndim - 1)) for g in mi_grads]
    return [None if g is None else g * scale.to(g.dtype) for g in mi_grads]
