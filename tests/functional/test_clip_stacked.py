"""``stacked=True`` of the eq. 21 clip and its norms: each seed's slice as if it were alone."""

from __future__ import annotations

import pytest
import torch

from mine_gan.functional import adaptive_clip, global_norm
from mine_gan.optim import clip_mi_gradients

SEEDS = 4


def _stacked_grads(seed: int, with_none: bool = False) -> list[torch.Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    grads = [torch.randn(SEEDS, 3, 2, generator=g, dtype=torch.float64), torch.randn(SEEDS, 5, generator=g).double()]
    grads[0][2] = 0.0  # one seed whose gradient vanishes on this parameter
    return [*grads, None] if with_none else grads


def _seed(grads: list[torch.Tensor | None], s: int) -> list[torch.Tensor | None]:
    return [None if g is None else g[s] for g in grads]


def test_global_norm_stacked_is_each_seeds_norm():
    grads = _stacked_grads(0, with_none=True)
    norms = global_norm(grads, stacked=True)
    assert norms.shape == (SEEDS,)
    for s in range(SEEDS):
        torch.testing.assert_close(norms[s], global_norm(_seed(grads, s)))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])  # g_m smaller than, like, and larger than g_u
def test_adaptive_clip_stacked_clips_each_seed_by_its_own_norms(scale):
    g_u = _stacked_grads(1, with_none=True)
    g_m = [None if g is None else scale * g for g in _stacked_grads(2, with_none=True)]
    g_m[1][3] = 0.0  # a seed with a zero MI gradient on one parameter
    clipped = adaptive_clip(g_u, g_m, stacked=True)
    for s in range(SEEDS):
        for got, expected in zip(_seed(clipped, s), adaptive_clip(_seed(g_u, s), _seed(g_m, s)), strict=True):
            if expected is None:
                assert got is None
            else:
                torch.testing.assert_close(got, expected)


def test_clip_mi_gradients_stacked_norms_are_per_seed():
    g_u, g_m = _stacked_grads(3), [10.0 * g for g in _stacked_grads(4)]
    _, g_a, norms = clip_mi_gradients(g_u, g_m, "adaptive", stacked=True)
    for s in range(SEEDS):
        _, expected_g_a, expected = clip_mi_gradients(_seed(g_u, s), _seed(g_m, s), "adaptive")
        for name, value in norms.items():
            torch.testing.assert_close(value[s], expected[name], msg=name)
        for got, want in zip(_seed(g_a, s), expected_g_a, strict=True):
            torch.testing.assert_close(got, want)


def test_clip_mi_gradients_stacked_without_mi_term_gives_zero_norms_per_seed():
    _, g_a, norms = clip_mi_gradients(_stacked_grads(5), [None, None], "adaptive", stacked=True)
    assert g_a == [None, None]
    for value in norms.values():
        torch.testing.assert_close(value, torch.zeros(SEEDS, dtype=torch.float64))
