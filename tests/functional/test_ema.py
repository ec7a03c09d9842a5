"""MINE's moving-average correction (Belghazi et al. 2018, §3.2) against hand-computed values and gradients."""

import math

import pytest
import torch

from mine_gan import functional as MF


def test_first_update_initializes_without_bias():
    t = torch.tensor([0.0, math.log(3.0)])
    assert MF.ema_log_update(torch.tensor(float("-inf")), t, ema_decay=0.9).exp().item() == pytest.approx(2.0)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.99])
def test_update_is_the_moving_average_of_batch_means(decay):
    g = torch.Generator().manual_seed(0)
    batches = [torch.randn(16, generator=g).double() for _ in range(5)]
    m = batches[0].exp().mean().item()
    log_ema = MF.ema_log_update(torch.tensor(float("-inf")).double(), batches[0], decay)
    for b in batches[1:]:
        m = decay * m + (1 - decay) * b.exp().mean().item()
        log_ema = MF.ema_log_update(log_ema, b, decay)
    assert log_ema.exp().item() == pytest.approx(m, rel=1e-12)


def test_update_survives_scores_that_overflow_exp():
    log_ema = MF.ema_log_update(torch.tensor(5000.0), torch.full((4,), 6000.0), ema_decay=0.99)
    assert log_ema.item() == pytest.approx(6000.0 + math.log(0.01), abs=1e-2)


def test_mine_value_is_the_donsker_varadhan_value():
    g = torch.Generator().manual_seed(1)
    tj, tm = torch.randn(10, generator=g), torch.randn(10, generator=g)
    value, _ = MF.mine_lower_bound(tj, tm, torch.tensor(0.3), ema_decay=0.9)
    assert value.item() == pytest.approx(MF.donsker_varadhan(tj, tm).item(), rel=1e-6)


@pytest.mark.parametrize("decay", [0.0, 0.9])
def test_gradient_equals_the_corrected_formula(decay):
    """T(x, z) = wᵀ[x, z] + b: ∇_w T = [x, z], so the corrected gradient has a closed form."""
    g = torch.Generator().manual_seed(2)
    xz_joint = torch.randn(12, 3, generator=g).double()
    xz_marg = torch.randn(12, 3, generator=g).double()
    w = torch.randn(3, generator=g).double().requires_grad_()
    log_prev = torch.tensor(0.7).double()

    t_joint, t_marg = xz_joint @ w, xz_marg @ w
    value, new_log_ema = MF.mine_lower_bound(t_joint, t_marg, log_prev, decay)
    (grad,) = torch.autograd.grad(value, w)

    with torch.no_grad():
        e = t_marg.exp()
        m_t = decay * math.exp(0.7) + (1 - decay) * e.mean() if decay else e.mean()
        expected = xz_joint.mean(0) - (xz_marg * e.unsqueeze(1)).mean(0) / m_t
    torch.testing.assert_close(grad, expected)
    assert new_log_ema.exp().item() == pytest.approx(float(m_t))


def test_plain_dv_gradient_differs_from_corrected_one():
    """With a stale average the corrected gradient must differ from the biased minibatch one."""
    g = torch.Generator().manual_seed(3)
    x, xm = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g)
    w = torch.randn(2, generator=g).requires_grad_()
    (g_dv,) = torch.autograd.grad(MF.donsker_varadhan(x @ w, xm @ w), w)
    value, _ = MF.mine_lower_bound(x @ w, xm @ w, torch.tensor(3.0), ema_decay=0.99)
    (g_mine,) = torch.autograd.grad(value, w)
    assert not torch.allclose(g_dv, g_mine)


def test_decay_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="`ema_decay` must be in"):
        MF.ema_log_update(torch.tensor(0.0), torch.zeros(3), ema_decay=1.0)
