"""MIRegularizer: gradients against autograd references, MI moved the asked way, plain PyTorch and Lightning."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from mine_gan import MINE, MIRegularizer, estimate_mi
from mine_gan.estimators import ConcatCritic, heldout_estimate
from mine_gan.functional import adaptive_clip, global_norm

SIGN = {"maximize": 1.0, "minimize": -1.0}


pytestmark = pytest.mark.usefixtures("one_thread")


def _critic(seed: int = 0, dim: int = 2) -> ConcatCritic:
    torch.manual_seed(seed)
    return ConcatCritic(dim, dim, hidden_dims=(32,))


def _batch(seed: int = 0, n: int = 128) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """A linear encoder and a batch ``x``, ``z = enc(x) + ε`` that carries gradients to the encoder."""
    g = torch.Generator().manual_seed(seed)
    encoder = nn.Linear(2, 2)
    with torch.no_grad():
        encoder.weight.copy_(torch.randn(2, 2, generator=g))
        encoder.bias.zero_()
    x = torch.randn(n, 2, generator=g)
    return encoder, x, encoder(x) + torch.randn(n, 2, generator=g)


def _gaussian_channel_mi(weight: torch.Tensor) -> float:
    """I(X; WX + ε) for X, ε ~ N(0, I): ½ log det(I + W Wᵀ)."""
    w = weight.detach()
    return 0.5 * float(torch.logdet(torch.eye(w.shape[0]) + w @ w.T))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_gradients_match_autograd_reference(direction: str) -> None:
    """The critic always descends −Î; the encoder gets ∓β ∇Î; the value is ∓β Î."""
    weight = 0.3
    encoder, x, z = _batch()
    reg = MIRegularizer(_critic(), direction=direction, mi_weight=weight, bound="mine_biased")
    term = reg(x, z, rng=torch.Generator().manual_seed(7))
    term.backward()

    reference = MINE(_critic(), bound="mine_biased")
    encoder_ref, x_ref, z_ref = _batch()
    estimate = -reference.loss(x_ref, z_ref, rng=torch.Generator().manual_seed(7))
    critic_grads = torch.autograd.grad(-estimate, list(reference.parameters()), retain_graph=True)
    encoder_grads = torch.autograd.grad(estimate, list(encoder_ref.parameters()))

    torch.testing.assert_close(reg.last_estimate, estimate.detach())
    torch.testing.assert_close(term.detach(), -SIGN[direction] * weight * estimate.detach())
    for got, want in zip(reg.parameters(), critic_grads, strict=True):
        torch.testing.assert_close(got.grad, want)
    for got, want in zip(encoder.parameters(), encoder_grads, strict=True):
        torch.testing.assert_close(got.grad, -SIGN[direction] * weight * want)


def test_zero_weight_trains_only_the_critic() -> None:
    encoder, x, z = _batch()
    reg = MIRegularizer(_critic(), direction="minimize", mi_weight=0.0)
    reg(x, z).backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in reg.parameters())


def test_no_grad_returns_the_value_only() -> None:
    encoder, x, _ = _batch()
    reg = MIRegularizer(_critic(), direction="minimize", mi_weight=2.0).eval()
    with torch.no_grad():
        term = reg(x, encoder(x))
    assert term.grad_fn is None
    torch.testing.assert_close(term, 2.0 * reg.last_estimate)


def test_adaptive_clip_matches_eq21() -> None:
    """With clip="adaptive" the encoder steps on g_u + β·min(‖g_u‖, ‖g_m‖)·g_m/‖g_m‖ (paper eq. 21)."""
    weight = 0.5
    encoder, x, z = _batch()
    main_loss = 1e-3 * z.square().mean()  # a main gradient far smaller than the MI gradient: clipping acts
    params = list(encoder.parameters())
    reg = MIRegularizer(_critic(), direction="maximize", mi_weight=weight, bound="mine_biased", clip="adaptive")
    (main_loss + reg(x, z, main_loss=main_loss, params=params, rng=torch.Generator().manual_seed(3))).backward()

    reference = MINE(_critic(), bound="mine_biased")
    encoder_ref, x_ref, z_ref = _batch()
    main_ref = 1e-3 * z_ref.square().mean()
    g_u = torch.autograd.grad(main_ref, list(encoder_ref.parameters()), retain_graph=True)
    g_m = torch.autograd.grad(
        reference.loss(x_ref, z_ref, rng=torch.Generator().manual_seed(3)), list(encoder_ref.parameters())
    )
    assert global_norm(g_m) > 10 * global_norm(g_u)  # the premise of this test
    expected = [u + weight * a for u, a in zip(g_u, adaptive_clip(g_u, g_m), strict=True)]
    for got, want in zip(params, expected, strict=True):
        torch.testing.assert_close(got.grad, want)
    mi_part = [p.grad - u for p, u in zip(params, g_u, strict=True)]
    torch.testing.assert_close(global_norm(mi_part), weight * global_norm(g_u))


@pytest.fixture(scope="module")
def initial_mi() -> float:
    """Independent estimate of I(X; Z) for the toy encoder's starting point (W = I, so I = log 2)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 2, generator=g)
    return _independent_estimate(x, x + torch.randn(2000, 2, generator=g))


def _independent_estimate(x: torch.Tensor, z: torch.Tensor) -> float:
    """estimate_mi with a fresh small critic (within ~0.1 nats of the truth on this toy, in under a second)."""
    torch.manual_seed(0)
    critic = ConcatCritic(2, 2, hidden_dims=(64,))
    return estimate_mi(x, z, critic=critic, steps=300, lr=5e-3, seed=0).value


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_plain_pytorch_loop_moves_mi_the_asked_way(direction: str, initial_mi: float) -> None:
    """A toy encoder z = Wx + ε trained on the term alone: an independent estimate_mi sees I move."""
    torch.manual_seed(0)
    encoder = nn.Linear(2, 2)
    with torch.no_grad():
        encoder.weight.copy_(torch.eye(2))
        encoder.bias.zero_()
    reg = MIRegularizer(ConcatCritic(2, 2, hidden_dims=(64,)), direction=direction, mi_weight=1.0)
    optimizer = torch.optim.Adam([*encoder.parameters(), *reg.parameters()], lr=5e-3)
    for _ in range(150):
        x = torch.randn(256, 2)
        loss = reg(x, encoder(x) + torch.randn(256, 2))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 2, generator=g)
    with torch.no_grad():
        z = encoder(x) + torch.randn(2000, 2, generator=g)
    final_mi = _independent_estimate(x, z)
    assert abs(initial_mi - math.log(2)) < 0.15  # the independent estimator is trustworthy here
    truth = _gaussian_channel_mi(encoder.weight)
    if direction == "maximize":
        assert truth > math.log(2) + 0.5 and final_mi > initial_mi + 0.5
    else:
        assert truth < math.log(2) - 0.4 and final_mi < initial_mi - 0.4


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_critic_bound_rises_in_both_directions(direction: str) -> None:
    """With the model held fixed, the term's critic gradient tightens the bound whatever the direction."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1200, 2, generator=g)
    z = (x + 0.5 * torch.randn(1200, 2, generator=g)).requires_grad_()  # gradients reach a "model"
    truth = 2 * 0.5 * math.log(1 + 1 / 0.25)  # two independent channels of SNR 4: ≈ 1.61 nats
    reg = MIRegularizer(_critic(dim=2), direction=direction, mi_weight=1.0)
    optimizer = torch.optim.Adam(reg.parameters(), lr=5e-3)
    x_eval, z_eval = x[1000:], z[1000:].detach()
    before, _ = heldout_estimate(reg.estimator, x_eval, z_eval, rng=torch.Generator().manual_seed(0))
    for _ in range(150):
        idx = torch.randint(0, 1000, (256,), generator=g)
        optimizer.zero_grad()
        reg(x[idx], z[idx]).backward()
        optimizer.step()
    after, _ = heldout_estimate(reg.estimator, x_eval, z_eval, rng=torch.Generator().manual_seed(0))
    assert z.grad is not None and z.grad.abs().sum() > 0  # the model side was active
    assert before < 0.2 and after > 0.6 * truth


class _ToyLightning(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(2, 2)
        self.regularizer = MIRegularizer(ConcatCritic(2, 2, hidden_dims=(16,)), direction="minimize", mi_weight=0.1)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        (x,) = batch
        z = self.encoder(x) + torch.randn_like(x)
        loss = z.square().mean() + self.regularizer(x, z)
        self.log("train/mi", self.regularizer.last_estimate)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def test_lightning_module_trains_critic_through_its_own_optimizer() -> None:
    torch.manual_seed(0)
    model = _ToyLightning()
    critic_before = [p.detach().clone() for p in model.regularizer.parameters()]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(256, 2)), batch_size=64)
    trainer = pl.Trainer(
        max_steps=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(model, loader)
    assert trainer.global_step == 4
    assert all(not torch.equal(a, b) for a, b in zip(critic_before, model.regularizer.parameters(), strict=True))
    assert torch.isfinite(trainer.callback_metrics["train/mi"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"direction": "up"}, "`direction` must be one of"),
        ({"mi_weight": -1.0}, "`mi_weight` must be >= 0"),
        ({"clip": True}, r"`clip` must be one of \['adaptive', None\], got True"),
        ({"bound": "kl"}, "`bound` must be one of"),
    ],
)
def test_bad_construction_fails_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MIRegularizer(_critic(), **kwargs)


def test_old_weight_name_is_refused() -> None:
    """β is ``mi_weight`` everywhere; the old ``weight=`` fails instead of being ignored."""
    with pytest.raises(TypeError, match="weight"):
        MIRegularizer(_critic(), weight=0.1)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "match"),
    [
        ((8, 2), (7, 2), "same number of samples"),
        ((8, 3), (8, 2), r"`a` must be \(N, 2\)"),
        ((8, 2), (8, 2, 1), r"`b` must be \(N, 2\)"),
        ((1, 2), (1, 2), "at least 2"),
    ],
)
def test_bad_shapes_fail_clearly(a_shape: tuple, b_shape: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MIRegularizer(_critic())(torch.randn(a_shape), torch.randn(b_shape))


def test_clip_arguments_are_checked() -> None:
    encoder, x, z = _batch()
    with pytest.raises(ValueError, match="clip='adaptive' needs `main_loss`"):
        MIRegularizer(_critic(), clip="adaptive")(x, z)
    with pytest.raises(ValueError, match="only with clip='adaptive'"):
        MIRegularizer(_critic())(x, z, main_loss=z.sum(), params=encoder.parameters())
    with pytest.raises(TypeError, match="`a` must be a torch.Tensor"):
        MIRegularizer(_critic())(x.numpy(), z)
