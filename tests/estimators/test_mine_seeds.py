"""A MINE whose critic is a :class:`~mine_gan.nets.SeedStack` of ``S`` critics equals ``S`` separate MINEs.

Every bound and marginal, loss, estimate and moving average, against the ``S`` single-seed estimators each
run on its own block of rows with its own random stream: nothing pairs one seed's rows with another's.
"""

from __future__ import annotations

import pytest
import torch

from mine_gan import MINE, ConcatCritic, SeparableCritic
from mine_gan.nets import SeedStack

SEEDS = 3
BATCH = 12
CASES = [
    ("mine", "shuffle"),
    ("mine", "all_pairs"),
    ("mine_biased", "shuffle"),
    ("mine_biased", "all_pairs"),
    ("nwj", "shuffle"),
    ("nwj", "all_pairs"),
    ("smile", "shuffle"),
    ("js", "all_pairs"),
    ("infonce", "all_pairs"),
]


def _critic(kind: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    if kind == "separable":  # has its own `pairwise`, which the stack vmaps
        return SeparableCritic(2, 3, embed_dim=4, hidden_dims=(8,)).double()
    return ConcatCritic(2, 3, hidden_dims=(8,)).double()


def _singles_and_stack(bound: str, marginal: str, kind: str) -> tuple[list[MINE], MINE]:
    singles = [MINE(_critic(kind, s), bound=bound, marginal=marginal) for s in range(SEEDS)]
    stacked = MINE(SeedStack([m.critic for m in singles]), bound=bound, marginal=marginal)
    stacked.log_ema = torch.stack([m.log_ema for m in singles]).clone()
    return singles, stacked


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(SEEDS * BATCH, 2, generator=g, dtype=torch.float64)
    return x, torch.cat([x, x[:, :1]], dim=1) + 0.5 * torch.randn(SEEDS * BATCH, 3, generator=g, dtype=torch.float64)


def _streams() -> list[torch.Generator]:
    return [torch.Generator().manual_seed(100 + s) for s in range(SEEDS)]


@pytest.mark.parametrize("kind", ["concat", "separable"])
@pytest.mark.parametrize(("bound", "marginal"), CASES)
def test_stacked_estimator_equals_separate_estimators(bound, marginal, kind):
    singles, stacked = _singles_and_stack(bound, marginal, kind)
    x, z = _data()
    assert stacked.num_seeds == SEEDS
    streams, single_streams = _streams(), _streams()
    for _ in range(2):  # the second step starts from the moving average the first left
        losses = stacked.loss(x, z, rng=streams)
        assert losses.shape == (SEEDS,)
        for s, single in enumerate(singles):
            rows = slice(s * BATCH, (s + 1) * BATCH)
            expected = single.loss(x[rows], z[rows], rng=single_streams[s])
            torch.testing.assert_close(losses[s], expected, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(stacked.log_ema[s], single.log_ema, rtol=1e-10, atol=1e-12)
    estimates = stacked(x, z, rng=streams)
    for s, single in enumerate(singles):
        rows = slice(s * BATCH, (s + 1) * BATCH)
        torch.testing.assert_close(estimates[s], single(x[rows], z[rows], rng=single_streams[s]))


def test_stacked_gradient_is_each_seeds_own():
    singles, stacked = _singles_and_stack("infonce", "all_pairs", "concat")
    x, z = _data()
    stacked.loss(x, z).sum().backward()
    for s, single in enumerate(singles):
        rows = slice(s * BATCH, (s + 1) * BATCH)
        single.loss(x[rows], z[rows]).backward()
        for stacked_param, param in zip(stacked.critic.stacked_parameters, single.critic.parameters(), strict=True):
            torch.testing.assert_close(stacked_param.grad[s], param.grad)


def test_stacked_shuffle_needs_one_stream_per_seed():
    _, stacked = _singles_and_stack("mine", "shuffle", "concat")
    x, z = _data()
    with pytest.raises(ValueError, match="one torch.Generator per seed, got 2 streams"):
        stacked.loss(x, z, rng=_streams()[:2])
    with pytest.raises(ValueError, match="one torch.Generator per seed, got Generator"):
        stacked.loss(x, z, rng=torch.Generator())
    with pytest.raises(ValueError, match="cannot be split into 3 seeds"):
        stacked.loss(x[:-1], z[:-1], rng=_streams())


def test_single_estimator_refuses_a_list_of_streams():
    single, _ = _singles_and_stack("mine", "shuffle", "concat")
    x, z = _data()
    with pytest.raises(ValueError, match="single-seed MINE"):
        single[0].loss(x, z, rng=_streams())
