"""Adversarial losses and the zero-centred gradient penalty against closed forms."""

from __future__ import annotations

import pytest
import torch

from mine_gan.nets.losses import gradient_penalty


def _tiny_critic():
    torch.manual_seed(0)
    w1, b1, w2 = torch.randn(3, 2), torch.randn(3), torch.randn(3)

    def critic(x, *context):
        return torch.tanh(x @ w1.T + b1) @ w2

    def grad_norm2(x):  # d/dx of w2 · tanh(W1 x + b1) = W1^T (w2 ⊙ (1 − tanh²))
        h = torch.tanh(x @ w1.T + b1)
        g = (w2 * (1 - h**2)) @ w1
        return g.pow(2).sum(dim=1)

    return critic, grad_norm2


def test_r1_penalty_is_the_mean_squared_input_gradient():
    critic, grad_norm2 = _tiny_critic()
    x = torch.randn(16, 2)
    torch.testing.assert_close(gradient_penalty(critic, x), grad_norm2(x).mean())


def test_interpolates_use_the_given_weights():
    critic, grad_norm2 = _tiny_critic()
    x, fake, u = torch.randn(8, 2), torch.randn(8, 2), torch.rand(8)
    expected = grad_norm2(u[:, None] * x + (1 - u[:, None]) * fake).mean()
    torch.testing.assert_close(gradient_penalty(critic, x, fake=fake, points="interpolates", mix=u), expected)


def test_penalty_trains_the_critic_and_ignores_the_context_gradient():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    z = torch.randn(5, 1, requires_grad=True)
    penalty = gradient_penalty(lambda x, c: x @ w + 10 * c[:, 0], torch.randn(5, 2), z)
    penalty.backward()
    torch.testing.assert_close(penalty.detach(), torch.tensor(25.0))
    torch.testing.assert_close(w.grad, 2 * w.detach())  # d/dw ||w||² : the penalty reaches the critic's weights
    assert z.grad is None  # the context is an input, not a point of the penalty


def test_interpolates_need_matching_fakes():
    with pytest.raises(ValueError, match="points='interpolates' needs `fake`"):
        gradient_penalty(lambda x: x.sum(1), torch.randn(4, 2), points="interpolates")
    with pytest.raises(ValueError, match="`points` must be one of"):
        gradient_penalty(lambda x: x.sum(1), torch.randn(4, 2), points="fake")
