"""Adaptive gradient clipping, eq. 21 of Belghazi et al. (ICML 2018): g_a = min(|g_u|, |g_m|) g_m / |g_m|."""

import pytest
import torch

from mine_gan.functional import adaptive_clip, global_norm


def _grads(seed: int, scale: float) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(3, 4, generator=g), scale * torch.randn(5, generator=g)]


def test_global_norm_is_frobenius_norm_of_all_parameters():
    grads = _grads(0, 1.0)
    expected = torch.cat([g.flatten() for g in grads]).norm()
    torch.testing.assert_close(global_norm(grads), expected)


@pytest.mark.parametrize(("scale_u", "scale_m"), [(1.0, 10.0), (10.0, 1.0), (2.0, 2.0)])
def test_clipped_norm_is_the_smaller_norm(scale_u, scale_m):
    g_u, g_m = _grads(0, scale_u), _grads(1, scale_m)
    g_a = adaptive_clip(g_u, g_m)
    expected = torch.minimum(global_norm(g_u), global_norm(g_m))
    torch.testing.assert_close(global_norm(g_a), expected)


@pytest.mark.parametrize(("scale_u", "scale_m"), [(1.0, 10.0), (10.0, 1.0)])
def test_clipped_gradient_points_along_the_mi_gradient(scale_u, scale_m):
    g_u, g_m = _grads(0, scale_u), _grads(1, scale_m)
    flat_a = torch.cat([g.flatten() for g in adaptive_clip(g_u, g_m)])
    flat_m = torch.cat([g.flatten() for g in g_m])
    cosine = flat_a @ flat_m / (flat_a.norm() * flat_m.norm())
    torch.testing.assert_close(cosine, torch.tensor(1.0))
    # Per parameter it is one common positive factor times g_m: the factor min(|g_u|, |g_m|) / |g_m|.
    factor = torch.minimum(global_norm(g_u), global_norm(g_m)) / global_norm(g_m)
    for a, m in zip(adaptive_clip(g_u, g_m), g_m, strict=True):
        torch.testing.assert_close(a, factor * m)


def test_small_mi_gradient_is_unchanged():
    g_u, g_m = _grads(0, 10.0), _grads(1, 0.1)
    for a, m in zip(adaptive_clip(g_u, g_m), g_m, strict=True):
        torch.testing.assert_close(a, m)


@pytest.mark.parametrize("which_zero", ["adv", "mi", "both"])
def test_zero_gradients_give_zero_without_nan(which_zero):
    g_u, g_m = _grads(0, 1.0), _grads(1, 1.0)
    if which_zero in ("adv", "both"):
        g_u = [torch.zeros_like(g) for g in g_u]
    if which_zero in ("mi", "both"):
        g_m = [torch.zeros_like(g) for g in g_m]
    for a in adaptive_clip(g_u, g_m):
        assert torch.isfinite(a).all()
        assert torch.count_nonzero(a) == 0


def test_none_entries_are_kept_and_count_as_zero():
    g_u = [torch.tensor([3.0, 0.0]), None]
    g_m = [None, torch.tensor([0.0, 8.0])]
    g_a = adaptive_clip(g_u, g_m)
    assert g_a[0] is None
    torch.testing.assert_close(g_a[1], torch.tensor([0.0, 3.0]))


def test_misaligned_gradients_are_rejected():
    with pytest.raises(ValueError, match="align parameter by parameter"):
        adaptive_clip(_grads(0, 1.0), _grads(1, 1.0)[:1])
