"""``SeedStack``: S copies of one network (one per seed) as one module, evaluated with one ``vmap``.

This is how ``mine-gan fit --seeds`` trains S seeds as one batched model without a second training step:
the GAN module's own step runs unchanged on seed-major batches of ``S·B`` rows, and each network call
evaluates seed ``s``'s network on rows ``[s·B, (s+1)·B)``. Parameters and buffers are stacked along a
leading seed axis, so an elementwise optimizer (Adam) over them is S independent optimizers.

Batch norm and spectral normalization keep per-seed state (running statistics, power-iteration vectors);
their PyTorch implementations update that state in ways ``vmap`` cannot batch (``out=`` arguments, fused
kernels), so the stack evaluates them through the drop-in subclasses below, which compute the same
function with batchable operations.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.nn.utils.parametrizations import _SpectralNorm

__all__ = ["SeedStack"]


class _BatchableBatchNorm(nn.modules.batchnorm._BatchNorm):
    """``nn.BatchNorm1d/2d`` in training or eval mode, written with ops ``vmap`` batches (same function)."""

    def forward(self, x: Tensor) -> Tensor:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training:
            dims = [0, *range(2, x.ndim)]
            mean, var = x.mean(dims), x.var(dims, unbiased=False)
            count = x.numel() // x.shape[1]
            with torch.no_grad():
                # PyTorch's update: momentum-weighted, the running variance unbiased.
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * count / max(count - 1, 1))
                self.num_batches_tracked.add_(1)
        else:
            mean, var = self.running_mean, self.running_var
        normalized = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return normalized * self.weight.view(shape) + self.bias.view(shape)


class _BatchableSpectralNorm(_SpectralNorm):
    """PyTorch's spectral-norm parametrization with the power iteration written without ``out=``."""

    @torch.no_grad()
    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        for _ in range(n_power_iterations):
            self._u.copy_(F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps))
            self._v.copy_(F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps))


class _Method(nn.Module):
    """Calls one method of ``net`` as ``forward``, so that ``functional_call`` can reach it."""

    def __init__(self, net: nn.Module, method: str) -> None:
        super().__init__()
        self.net, self.method = net, method

    def forward(self, *args: Tensor) -> Any:
        return getattr(self.net, self.method)(*args)


def _batchable(module: nn.Module) -> nn.Module:
    """``module`` with its batch norms and spectral norms swapped for their batchable twins (in place)."""
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and type(sub) in (nn.BatchNorm1d, nn.BatchNorm2d):
            if not (sub.affine and sub.track_running_stats) or sub.momentum is None:
                raise ValueError("SeedStack supports batch norm with affine=True, track_running_stats=True, a momentum")
            sub.__class__ = type(f"Batchable{type(sub).__name__}", (_BatchableBatchNorm, type(sub)), {})
        elif isinstance(sub, nn.modules.batchnorm._BatchNorm) and not isinstance(sub, _BatchableBatchNorm):
            raise ValueError(f"SeedStack cannot batch {type(sub).__name__}; use BatchNorm1d/2d")
        elif type(sub) is _SpectralNorm:
            sub.__class__ = _BatchableSpectralNorm
    return module


class SeedStack(nn.Module):
    r"""``S`` networks of one architecture as one module: network ``s`` maps rows ``[s·B, (s+1)·B)``.

    .. math:: y_{sB + i} = f(x_{sB + i};\, \theta_s), \qquad s = 0, \dots, S - 1

    Inputs and outputs are seed-major flat batches ``(S·B, ...)``, the layout the GAN modules' training step
    uses, so the step needs no knowledge of the stack. Any method of the network is available the same way
    (``stack.forward_with_code(x)``), and so are its non-tensor attributes (``stack.latent_dim``).

    Args:
        networks: the ``S`` networks (same architecture); their current parameters and buffers are copied.

    Example:
        >>> import torch
        >>> nets = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)) for _ in range(2)]
        >>> stack = SeedStack(nets)
        >>> x = torch.randn(2 * 5, 3)
        >>> torch.allclose(stack(x)[5:], nets[1](x[5:]), atol=1e-6)
        True
        >>> torch.allclose(stack.network(1).state_dict()["1.running_mean"], nets[1].state_dict()["1.running_mean"])
        True
    """

    def __init__(self, networks: Sequence[nn.Module]) -> None:
        super().__init__()
        networks = list(networks)
        if len(networks) < 1:
            raise ValueError("`networks` must hold at least one network")
        names = [[name for name, _ in net.named_parameters()] for net in networks]
        if any(n != names[0] for n in names):
            raise ValueError("the networks of a SeedStack must share one architecture (same parameter names)")
        self.num_seeds = len(networks)
        self._param_names = names[0]
        self._buffer_names = [name for name, _ in networks[0].named_buffers()]
        states = [dict(net.named_parameters()) | dict(net.named_buffers()) for net in networks]
        self.stacked_parameters = nn.ParameterList(
            [nn.Parameter(torch.stack([s[n].detach() for s in states]).clone()) for n in self._param_names]
        )
        for i, n in enumerate(self._buffer_names):
            self.register_buffer(f"stacked_buffer_{i}", torch.stack([s[n] for s in states]).clone())
        # Not submodules: the prototype is copied out by `network`; the template only lends its code to vmap.
        self.__dict__["_prototype"] = copy.deepcopy(networks[0])
        self.__dict__["_template"] = _batchable(copy.deepcopy(networks[0])).to("meta")
        self.__dict__["_calls"] = {}

    def _stacked_buffers(self) -> list[Tensor]:
        return [getattr(self, f"stacked_buffer_{i}") for i in range(len(self._buffer_names))]

    def _state(self) -> dict[str, Tensor]:
        return dict(zip(self._param_names, self.stacked_parameters, strict=True)) | dict(
            zip(self._buffer_names, self._stacked_buffers(), strict=True)
        )

    def _vmapped(self, method: str) -> Any:
        if method not in self._calls:
            # functional_call reaches `forward` only: another method is the forward of a wrapper around it.
            module, prefix = (self._template, "") if method == "forward" else (_Method(self._template, method), "net.")

            def call(state: dict[str, Tensor], *args: Tensor) -> Any:
                return functional_call(module, {prefix + k: v for k, v in state.items()}, args)

            self._calls[method] = vmap(call)
        return self._calls[method]

    def call(self, method: str, *args: Tensor) -> Any:
        """``method`` of every network on its rows of ``args`` (each ``(S·B, ...)``); outputs ``(S·B, ...)``."""
        split = []
        for a in args:
            if a.shape[0] % self.num_seeds:
                raise ValueError(
                    f"a SeedStack of {self.num_seeds} seeds takes seed-major batches of S·B rows; got {a.shape[0]} rows"
                )
            split.append(a.reshape(self.num_seeds, a.shape[0] // self.num_seeds, *a.shape[1:]))
        if self._template.training != self.training:  # Lightning restores modes by setting `.training` directly
            self._template.train(self.training)
        out = self._vmapped(method)(self._state(), *split)
        flat = lambda t: t.reshape(-1, *t.shape[2:])  # noqa: E731
        return tuple(flat(t) for t in out) if isinstance(out, tuple) else flat(out)

    def forward(self, *args: Tensor) -> Any:
        return self.call("forward", *args)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            pass
        template = self.__dict__.get("_template")
        if template is None:  # during __init__
            raise AttributeError(name)
        value = getattr(template, name)  # an AttributeError names the network's class
        if callable(value) and hasattr(type(template), name):
            return lambda *args: self.call(name, *args)
        return value

    def network(self, index: int) -> nn.Module:
        """A standalone copy of network ``index`` (its parameters and buffers, this stack's device and dtype)."""
        if not 0 <= index < self.num_seeds:
            raise IndexError(f"`index` must be in [0, {self.num_seeds}), got {index}")
        net = copy.deepcopy(self._prototype)
        ref = self.stacked_parameters[0] if len(self.stacked_parameters) else None
        if ref is not None:
            net = net.to(device=ref.device, dtype=ref.dtype)
        with torch.no_grad():
            state = dict(net.named_parameters()) | dict(net.named_buffers())
            for name, stacked in self._state().items():
                state[name].copy_(stacked[index])
        net.train(self.training)
        return net
