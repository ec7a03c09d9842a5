"""Optimization with an MI term: the adaptive-clipping step of eq. 21, usable in any (multi-process) training loop."""

from mine_gan.optim.mi_gradient import (
    Clip,
    MIGradientStep,
    average_gradients,
    averaged_backward,
    clip_mi_gradients,
    install_gradients,
    local_gradients,
    loss_scale,
)

__all__ = [
    "Clip",
    "MIGradientStep",
    "average_gradients",
    "averaged_backward",
    "clip_mi_gradients",
    "install_gradients",
    "local_gradients",
    "loss_scale",
]
