"""MIGradientStep.backward and averaged_backward: the gradients they install, by hand, on one and two processes.

Losses linear in the parameters ``w`` make every gradient a constant: ``main = a·w`` gives ``g_u = a`` and
``mi = b·w`` gives ``g_m = b``, so the expected step is written out with numbers.
"""

from __future__ import annotations

import contextlib
import math
from types import SimpleNamespace

import pytest
import torch

from mine_gan.optim import MIGradientStep, averaged_backward


class FakeStrategy:
    """``world_size`` processes where the others' flattened gradients are ``others`` (``reduce`` averages them in).

    It records every all-reduce and whether the backward passes ran with DDP's reducer blocked.
    """

    def __init__(self, others: list[torch.Tensor] | None = None) -> None:
        self.others = others or []
        self.world_size = 1 + len(self.others)
        self.reduced: list[torch.Tensor] = []
        self.blocked = False

    @contextlib.contextmanager
    def block_backward_sync(self):
        self.blocked = True
        yield
        self.blocked = False

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        assert reduce_op == "mean"
        self.reduced.append(tensor.detach().clone())
        return (tensor + sum(self.others)) / self.world_size


class FakeModule:
    """What the calls use of a LightningModule: ``trainer.strategy`` and ``manual_backward``."""

    def __init__(self, strategy: FakeStrategy) -> None:
        self.trainer = SimpleNamespace(strategy=strategy)
        self.backward_blocked: list[bool] = []

    def manual_backward(self, loss: torch.Tensor, **kwargs) -> None:
        self.backward_blocked.append(self.trainer.strategy.blocked)
        loss.backward(**kwargs)


def _losses(a: list[float], b: list[float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    w = torch.zeros(2, requires_grad=True)
    shared = 2 * w  # one graph under both losses, as a generator's output is under D's loss and the MI term
    return w, shared @ torch.tensor(a) / 2, shared @ torch.tensor(b) / 2


@pytest.mark.parametrize(
    ("b", "clip", "mi_weight", "expected"),
    [
        ([0.0, 10.0], "adaptive", 0.5, [3.0, 4.0 + 0.5 * 5.0]),  # ‖g_m‖ = 10 > ‖g_u‖ = 5: g_a = 5·(0, 1)
        ([0.0, 2.0], "adaptive", 0.5, [3.0, 4.0 + 0.5 * 2.0]),  # ‖g_m‖ = 2 < 5: g_a = g_m
        ([0.0, 10.0], None, 0.5, [3.0, 4.0 + 0.5 * 10.0]),  # no clip: g_u + β·g_m
        ([0.0, 10.0], "adaptive", 0.0, [3.0, 4.0]),  # β = 0: the plain GAN's step
    ],
    ids=["clipped", "small_mi", "no_clip", "zero_weight"],
)
def test_backward_installs_g_u_plus_beta_times_clipped_g_m(b, clip, mi_weight, expected):
    w, main, mi = _losses([3.0, 4.0], b)
    module = FakeModule(FakeStrategy())
    norms = MIGradientStep(mi_weight, clip).backward(module, main, mi, [w])
    assert torch.allclose(w.grad, torch.tensor(expected))
    assert float(norms["grad_norm_adv"]) == pytest.approx(5.0)
    assert float(norms["grad_norm_mi"]) == pytest.approx(math.hypot(*b))
    assert module.backward_blocked == [True, True]  # both passes kept out of DDP's own gradient averaging


def test_backward_averages_both_gradients_over_processes_before_the_clip():
    # This process: g_u = (3, 4), g_m = (0, 10). The other: g_u = (1, 0), g_m = (0, -2), flattened [g_u; g_m].
    strategy = FakeStrategy(others=[torch.tensor([1.0, 0.0, 0.0, -2.0])])
    w, main, mi = _losses([3.0, 4.0], [0.0, 10.0])
    MIGradientStep(mi_weight=0.5).backward(FakeModule(strategy), main, mi, [w])
    # Averages: g_u = (2, 2), ‖g_u‖ = 2√2; g_m = (0, 4), ‖g_m‖ = 4 → g_a = 2√2·(0, 1).
    # Clipping on each process, then averaging the steps, would give ((3 + 1)/2, (6.5 - 0.5)/2) = (2, 3).
    assert torch.allclose(w.grad, torch.tensor([2.0, 2.0 + 0.5 * 2 * math.sqrt(2)]))
    assert len(strategy.reduced) == 1  # one all-reduce of both gradients
    assert torch.equal(strategy.reduced[0], torch.tensor([3.0, 4.0, 0.0, 10.0]))


def test_backward_takes_g_m_already_taken_as_the_loss_would_give_it():
    w, main, mi = _losses([3.0, 4.0], [0.0, 10.0])
    MIGradientStep(0.5).backward(FakeModule(FakeStrategy()), main, [torch.tensor([0.0, 10.0])], [w])
    from_grads = w.grad.clone()
    w, main, mi = _losses([3.0, 4.0], [0.0, 10.0])
    MIGradientStep(0.5).backward(FakeModule(FakeStrategy()), main, mi, [w])
    assert torch.equal(from_grads, w.grad)


def test_backward_without_mi_term_installs_the_averaged_g_u():
    strategy = FakeStrategy(others=[torch.tensor([1.0, 0.0])])
    w, main, _ = _losses([3.0, 4.0], [0.0, 0.0])
    MIGradientStep(0.5).backward(FakeModule(strategy), main, None, [w])
    assert torch.allclose(w.grad, torch.tensor([2.0, 2.0]))


def test_averaged_backward_installs_the_gradient_averaged_over_processes_and_replaces_old_grads():
    strategy = FakeStrategy(others=[torch.tensor([1.0, 0.0])])
    w, main, _ = _losses([3.0, 4.0], [0.0, 0.0])
    w.grad = torch.full((2,), 100.0)  # left over from another backward: must not accumulate
    module = FakeModule(strategy)
    averaged_backward(module, main, [w])
    assert torch.allclose(w.grad, torch.tensor([2.0, 2.0]))
    assert module.backward_blocked == [True]
