"""S copies of one network as stacked parameters, evaluated together with ``torch.func.vmap``."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

__all__ = ["StackedModule"]


class _Method(nn.Module):
    """Calls one method of ``module`` as ``forward``, so ``functional_call`` can reach it."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module, self.method = module, method

    def forward(self, *args: Tensor) -> Any:
        return getattr(self.module, self.method)(*args)


class StackedModule:
    r"""``S`` networks of one architecture, each parameter stacked along a new leading seed axis.

    Calling it maps inputs ``(S, N, ...)`` to outputs ``(S, N, ...)``, network ``s`` on slice ``s``:

    .. math:: y_s = f(x_s;\, \theta_s), \qquad s = 1, \dots, S

    The stacked parameters are leaf tensors, so autograd gives each network's gradient in its slice, and an
    elementwise optimizer (Adam, SGD) over them steps every network exactly as it would alone.

    Args:
        modules: the ``S`` networks (same architecture, no buffers); their current values are copied.

    Example:
        >>> import torch
        >>> nets = [torch.nn.Linear(3, 2) for _ in range(4)]
        >>> stacked = StackedModule(nets)
        >>> x = torch.randn(4, 5, 3)
        >>> torch.allclose(stacked(x)[2], nets[2](x[2]))
        True
        >>> stacked.params["weight"].shape
        torch.Size([4, 2, 3])
    """

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        if not modules:
            raise ValueError("`modules` must hold at least one network")
        if any(True for m in modules for _ in m.buffers()):
            raise ValueError("`modules` must not have buffers: only parameters are stacked")
        params, _ = stack_module_state(list(modules))
        self.params: dict[str, Tensor] = params
        self.num = len(modules)
        # A parameter-free template on the meta device: functional_call supplies every tensor.
        self._template = copy.deepcopy(modules[0]).to("meta")
        self._calls: dict[str, Any] = {}

    def parameters(self) -> list[Tensor]:
        """The stacked parameters, ``(S, ...)`` each, in a fixed order."""
        return list(self.params.values())

    def _vmapped(self, method: str) -> Any:
        if method not in self._calls:
            if method == "forward":
                module, prefix = self._template, ""
            else:
                module, prefix = _Method(self._template, method), "module."

            def call(params: dict[str, Tensor], *args: Tensor) -> Any:
                return functional_call(module, {prefix + k: v for k, v in params.items()}, args)

            self._calls[method] = vmap(call)
        return self._calls[method]

    def __call__(self, *args: Tensor, method: str = "forward") -> Any:
        """``method`` of every network on its slice of ``args`` (each ``(S, N, ...)``)."""
        return self._vmapped(method)(self.params, *args)

    def unstack(self, index: int, module: nn.Module) -> nn.Module:
        """Load network ``index``'s parameters into ``module`` (same architecture) and return it."""
        module.load_state_dict({k: v[index].detach().clone() for k, v in self.params.items()})
        return module
