import io

import pytest
import torch
from torch import nn

from mine_gan import MINE, ConcatCritic, SeparableCritic
from mine_gan import functional as MF
from mine_gan.estimators import pairwise_scores


@pytest.fixture
def pairs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    return x, x + 0.3 * torch.randn(64, 2, generator=g)


def _critic(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return ConcatCritic(2, 2, hidden_dims=(16,))


@pytest.mark.parametrize("bound", ["mine", "mine_biased", "nwj", "infonce", "smile", "js"])
def test_loss_is_minus_the_estimate_on_the_same_pairs(bound, pairs):
    mine = MINE(_critic(), bound=bound).eval()
    x, z = pairs
    loss = mine.loss(x, z, rng=torch.Generator().manual_seed(1))
    estimate = mine(x, z, rng=torch.Generator().manual_seed(1))
    assert loss.item() == pytest.approx(-estimate.item(), rel=1e-5)


@pytest.mark.parametrize(
    "bound, reference",
    [
        ("mine", MF.donsker_varadhan),
        ("js", MF.donsker_varadhan),
        ("nwj", MF.nwj),
        ("smile", lambda tj, tm: MF.smile(tj, tm, 5.0)),
    ],
)
def test_all_pairs_estimate_uses_every_off_diagonal_pair(bound, reference, pairs):
    mine = MINE(_critic(), bound=bound, marginal="all_pairs")
    x, z = pairs
    s = pairwise_scores(mine.critic, x, z)
    off = ~torch.eye(len(x), dtype=torch.bool)
    torch.testing.assert_close(mine(x, z), reference(s.diagonal(), s[off]))


def test_shuffle_pairs_each_x_with_a_permuted_z(pairs):
    mine = MINE(_critic(), bound="mine_biased")
    x, z = pairs
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(5))
    expected = MF.donsker_varadhan(mine.critic(x, z), mine.critic(x, z[perm]))
    torch.testing.assert_close(mine(x, z, rng=torch.Generator().manual_seed(5)), expected)


def test_infonce_uses_the_full_score_matrix(pairs):
    torch.manual_seed(0)
    critic = SeparableCritic(2, 2, embed_dim=4, hidden_dims=(8,))
    x, z = pairs
    torch.testing.assert_close(MINE(critic, bound="infonce")(x, z), MF.infonce(critic.pairwise(x, z)))


def test_ema_updates_only_in_training_mode(pairs):
    mine = MINE(_critic(), bound="mine")
    mine.eval()
    mine.loss(*pairs)
    assert torch.isneginf(mine.log_ema)
    mine.train()
    mine.loss(*pairs)
    first = mine.log_ema.clone()
    assert torch.isfinite(first)
    mine.loss(*pairs, update_ema=False)
    assert torch.equal(mine.log_ema, first)


def test_state_dict_round_trip_keeps_ema_and_estimates(pairs):
    mine = MINE(_critic(0), bound="mine", ema_decay=0.9)
    optimizer = torch.optim.Adam(mine.parameters(), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        mine.loss(*pairs).backward()
        optimizer.step()
    buffer = io.BytesIO()
    torch.save(mine.state_dict(), buffer)
    buffer.seek(0)
    restored = MINE(_critic(1), bound="mine", ema_decay=0.9)
    restored.load_state_dict(torch.load(buffer))
    assert "log_ema" in mine.state_dict()
    assert torch.equal(restored.log_ema, mine.log_ema)
    g1, g2 = (torch.Generator().manual_seed(3) for _ in range(2))
    assert torch.equal(restored(*pairs, rng=g1), mine(*pairs, rng=g2))
    # The restored EMA drives the next corrected gradient exactly like the original's.
    assert torch.equal(
        restored.loss(*pairs, rng=torch.Generator().manual_seed(4)),
        mine.loss(*pairs, rng=torch.Generator().manual_seed(4)),
    )
    assert torch.equal(restored.log_ema, mine.log_ema)


def test_ema_moves_with_to():
    mine = MINE(_critic()).to(torch.float64)
    assert mine.log_ema.dtype == torch.float64


def test_gradient_flows_to_the_inputs(pairs):
    x, z = pairs
    x = x.clone().requires_grad_()
    MINE(_critic(), bound="mine").loss(x, z).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_any_user_module_with_the_signature_works(pairs):
    class Bilinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.eye(2))

        def forward(self, x, z):
            return ((x @ self.w) * z).sum(1)

    value = MINE(Bilinear(), bound="nwj")(*pairs)
    assert torch.isfinite(value)


def test_integer_and_double_inputs_are_cast_to_the_critic_dtype():
    x = torch.arange(10).unsqueeze(1)
    z = torch.arange(10, dtype=torch.float64).unsqueeze(1)
    value = MINE(ConcatCritic(1, 1, hidden_dims=(4,)))(x, z)
    assert value.dtype == torch.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bound": "kl"}, r"`bound` must be one of \['mine'"),
        ({"marginal": "pairs"}, "`marginal` must be one of"),
        ({"ema_decay": 1.5}, "`ema_decay`"),
        ({"bound": "infonce", "marginal": "shuffle"}, "all_pairs"),
        ({"smile_tau": -1.0}, "`smile_tau`"),
    ],
)
def test_bad_arguments_name_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MINE(_critic(), **kwargs)


def test_mismatched_sample_counts_are_rejected():
    with pytest.raises(ValueError, match=r"same number of samples.*\(5, 2\).*\(4, 2\)"):
        MINE(_critic())(torch.zeros(5, 2), torch.zeros(4, 2))
