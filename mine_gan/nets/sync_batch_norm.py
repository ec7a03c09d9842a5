"""Batch norm over the global batch of every DDP process, on any device (what one process at the global batch does).

Two processes at batch B train like one process at batch 2B only if batch norm normalizes with the
statistics of all 2B rows. :class:`torch.nn.SyncBatchNorm` computes them on GPUs only: it refuses CPU
tensors, and DDP refuses it in CPU modules ("SyncBatchNorm layers only work with GPU modules"). The layers
here all-gather the batch instead, which any backend (gloo included) and device can do.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributed.nn.functional import all_gather

__all__ = ["GlobalBatchNorm", "GlobalBatchNorm1d", "GlobalBatchNorm2d", "GlobalBatchNorm3d", "synchronize_batch_norm"]


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    r"""Batch norm whose training statistics are those of the global batch ``[rank 0 rows; rank 1 rows; ...]``.

    .. math::
        y_i = \gamma\, \frac{x_i - \mu_{\mathcal{B}}}{\sqrt{\sigma^2_{\mathcal{B}} + \epsilon}} + \beta,
        \qquad \mathcal{B} = \bigcup_{r} \mathcal{B}_r

    (Ioffe & Szegedy 2015, Algorithm 1, over the union of the processes' batches.) In training mode under
    ``torch.distributed`` with several processes, the batch is all-gathered with the differentiable
    :func:`torch.distributed.nn.functional.all_gather` and normalized as one batch, each process keeping its
    rows: forward values, gradients and running statistics are those of one process at the global batch.
    It costs ``world`` times the layer's activations; on GPUs, Lightning's ``Trainer(sync_batchnorm=True)``
    swaps these layers for :class:`torch.nn.SyncBatchNorm`, which reduces statistics instead. Every process
    must pass the same number of rows. Outside DDP, or in eval mode, it is plain batch norm.
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - the name of the overridden method's argument
        if not self._gathers():
            return super().forward(input)
        self._check_input_dim(input)
        rows = input.shape[0]
        batch = torch.cat(all_gather(input))
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative average, as nn.BatchNorm computes it
                momentum = 1.0 / float(self.num_batches_tracked)
        out = F.batch_norm(
            batch,
            self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None,
            self.weight,
            self.bias,
            True,
            momentum,
            self.eps,
        )
        rank = dist.get_rank()
        return out[rank * rows : (rank + 1) * rows]

    def _gathers(self) -> bool:
        return self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class GlobalBatchNorm1d(GlobalBatchNorm, nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` over the global batch (see :class:`GlobalBatchNorm`)."""


class GlobalBatchNorm2d(GlobalBatchNorm, nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` over the global batch (see :class:`GlobalBatchNorm`)."""


class GlobalBatchNorm3d(GlobalBatchNorm, nn.BatchNorm3d):
    """:class:`torch.nn.BatchNorm3d` over the global batch (see :class:`GlobalBatchNorm`)."""


_GLOBAL = {nn.BatchNorm1d: GlobalBatchNorm1d, nn.BatchNorm2d: GlobalBatchNorm2d, nn.BatchNorm3d: GlobalBatchNorm3d}


def synchronize_batch_norm(module: nn.Module) -> list[str]:
    """Turn every batch norm of ``module`` into its :class:`GlobalBatchNorm`, in place; the names of those turned.

    In place (the layers keep their identity, parameters and buffers), so optimizers and hooks built before
    stay valid. :class:`torch.nn.SyncBatchNorm` layers already synchronize and are left alone.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
        >>> synchronize_batch_norm(net), type(net[1]).__name__
        (['1'], 'GlobalBatchNorm1d')
    """
    turned = []
    for name, layer in module.named_modules():
        if not isinstance(layer, nn.modules.batchnorm._BatchNorm) or isinstance(
            layer, (GlobalBatchNorm, nn.SyncBatchNorm)
        ):
            continue
        if type(layer) not in _GLOBAL:
            raise ValueError(
                f"cannot synchronize {type(layer).__name__} at {name!r} across processes; use "
                "nn.BatchNorm1d/2d/3d (or train on one process)"
            )
        layer.__class__ = _GLOBAL[type(layer)]
        turned.append(name)
    return turned
