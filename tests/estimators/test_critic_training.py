"""The critic's own training in MIRegularizer: its optimizer, its steps per model step, its marginal pool."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mine_gan import MINE, MIRegularizer
from mine_gan.estimators import ConcatCritic

pytestmark = pytest.mark.usefixtures("one_thread")


def _critic(seed: int = 0) -> ConcatCritic:
    torch.manual_seed(seed)
    return ConcatCritic(2, 2, hidden_dims=(16,))


def _pairs(n: int = 64, seed: int = 0) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    encoder = nn.Linear(2, 2)
    x = torch.randn(n, 2, generator=g)
    return encoder, x, encoder(x) + 0.5 * torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("mi_steps", [1, 3])
def test_critic_takes_mi_steps_of_its_own_optimizer_per_model_step(mi_steps: int) -> None:
    reg = MIRegularizer(_critic(), direction="minimize", mi_weight=0.1, lr_mi=1e-3, mi_steps=mi_steps)
    steps = []
    reg.critic_optimizer.register_step_post_hook(lambda *_: steps.append(1))
    encoder, x, z = _pairs()
    model_optimizer = torch.optim.Adam([*encoder.parameters(), *reg.parameters()], lr=1e-2)
    for model_step in range(1, 3):
        model_optimizer.zero_grad()
        loss = z.pow(2).mean() + reg(x, z)
        after_own_steps = [p.detach().clone() for p in reg.critic.parameters()]
        loss.backward(retain_graph=True)
        # The term sends no gradient to the critic, so the model's optimizer (which holds it) leaves it alone.
        assert all(p.grad is None for p in reg.critic.parameters())
        assert encoder.weight.grad is not None and encoder.weight.grad.abs().sum() > 0
        model_optimizer.step()
        assert all(torch.equal(a, p) for a, p in zip(after_own_steps, reg.critic.parameters(), strict=True))
        assert len(steps) == mi_steps * model_step
    with torch.no_grad():  # validation: no critic step
        reg(x, z)
    assert len(steps) == 2 * mi_steps


@pytest.mark.parametrize("lr_mi", [1e-3, 3e-2])
def test_critic_learning_rate_is_its_own(lr_mi: float) -> None:
    """Adam's first step moves every parameter with a non-negligible gradient by ``lr · g / (|g| + ε) ≈ lr``."""
    reg = MIRegularizer(_critic(), direction="minimize", mi_weight=0.0, lr_mi=lr_mi, mi_betas=(0.5, 0.999))
    before = [p.detach().clone() for p in reg.critic.parameters()]
    _, x, z = _pairs()
    reg(x, z.detach())
    moves = torch.cat([(p.detach() - b).abs().flatten() for p, b in zip(reg.critic.parameters(), before, strict=True)])
    assert moves.max() == pytest.approx(lr_mi, rel=1e-3)
    assert reg.critic_optimizer.param_groups[0]["betas"] == (0.5, 0.999)


def test_critic_optimizer_state_is_in_the_state_dict() -> None:
    reg = MIRegularizer(_critic(), lr_mi=1e-3, mi_steps=2)
    _, x, z = _pairs()
    reg(x, z.detach())
    copy = MIRegularizer(_critic(seed=1), lr_mi=1e-3, mi_steps=2)
    copy.load_state_dict(reg.state_dict())
    states = copy.critic_optimizer.state_dict()["state"].values()
    assert states and all(int(state["step"]) == 2 for state in states)
    assert all(torch.equal(a, b) for a, b in zip(copy.parameters(), reg.parameters(), strict=True))


@pytest.mark.parametrize("shuffles", [1, 4])
def test_marginal_pool_draws_the_stated_shuffles(shuffles: int) -> None:
    """``shuffles = K``: the marginal scores are ``T(x_i, z_{π_k(i)})`` for ``K`` permutations drawn from ``rng``."""
    mine = MINE(_critic(), shuffles=shuffles)
    _, x, z = _pairs(n=32)
    rows = []
    mine.critic.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    with torch.no_grad():
        t_joint, t_marginal = mine.scores(x, z, rng=torch.Generator().manual_seed(3))
    assert t_joint.shape == (32,) and t_marginal.shape == (shuffles * 32,)
    assert rows == [(shuffles + 1) * 32]  # one critic call on the joint and every shuffled pair
    g = torch.Generator().manual_seed(3)
    partners = torch.cat([z[torch.randperm(32, generator=g)] for _ in range(shuffles)])
    with torch.no_grad():
        expected = mine.critic(x.repeat(shuffles, 1), partners)
    torch.testing.assert_close(t_marginal, expected)


def test_more_shuffles_lower_the_spread_of_the_estimate() -> None:
    """The partition term averages ``K·N`` pairs: the batch estimate's spread over shuffles shrinks with ``K``."""
    _, x, z = _pairs(n=64)

    def spread(shuffles: int) -> float:
        mine = MINE(_critic(), shuffles=shuffles)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            return float(torch.stack([mine(x, z, rng=g) for _ in range(200)]).std())

    assert spread(8) < 0.6 * spread(1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mi_steps": 0}, "`mi_steps` must be an integer >= 1, got 0"),
        ({"mi_steps": 2.0, "lr_mi": 1e-3}, r"`mi_steps` must be an integer >= 1, got 2.0"),
        ({"mi_steps": 2}, "`mi_steps`=2 needs the critic's own optimizer: set `lr_mi`"),
        ({"lr_mi": -1e-3}, r"`lr_mi` must be a number > 0 or None, got -0.001"),
        ({"lr_mi": 1e-3, "mi_betas": (1.0, 0.9)}, r"`mi_betas` must be two numbers in \[0, 1\), got \(1.0, 0.9\)"),
        ({"shuffles": 0}, "`shuffles` must be an integer >= 1, got 0"),
        ({"shuffles": 2, "marginal": "all_pairs"}, "`shuffles`=2 needs marginal='shuffle'"),
    ],
)
def test_bad_critic_training_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MIRegularizer(_critic(), **kwargs)
