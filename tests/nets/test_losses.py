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


def test_joint_penalty_is_the_squared_gradient_of_both_inputs():
    # D(x, z) = a·x + b·z: ∇_x D = a, ∇_z D = b at every point, so E‖∇_(x,z) D‖² = ‖a‖² + ‖b‖².
    a, b = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5, -1.0])
    x, z = torch.randn(6, 2), torch.randn(6, 3)
    penalty = gradient_penalty(lambda x, z: x @ a + z @ b, (x, z), reduction="none")
    torch.testing.assert_close(penalty, torch.full((6,), a.pow(2).sum().item() + b.pow(2).sum().item()))


def test_joint_interpolates_mix_both_parts_with_one_weight():
    # f = ½‖x‖² + (3/2)‖z‖² on images x and flat z: ∇_x f = x̂ and ∇_z f = 3ẑ, so the penalty reads the
    # interpolated points back; x̂ and ẑ must come from the same u of their row.
    def critic(x, z):
        return 0.5 * x.flatten(1).pow(2).sum(1) + 1.5 * z.pow(2).sum(1)

    x, x_fake, z, z_fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2), torch.randn(5, 3), torch.randn(5, 3)
    u = torch.tensor([0.0, 0.25, 0.5, 0.9, 1.0])
    x_hat = u[:, None, None, None] * x + (1 - u[:, None, None, None]) * x_fake
    z_hat = u[:, None] * z + (1 - u[:, None]) * z_fake
    expected = x_hat.flatten(1).pow(2).sum(1) + 9 * z_hat.pow(2).sum(1)
    penalty = gradient_penalty(critic, (x, z), fake=(x_fake, z_fake), points="interpolates", mix=u, reduction="none")
    torch.testing.assert_close(penalty, expected)


def test_joint_interpolates_need_a_fake_pair():
    with pytest.raises(
        ValueError, match=r"needs `fake` of the real points' shapes \[\(4, 2\), \(4, 3\)\], got \[\(4, 2\)\]"
    ):
        gradient_penalty(
            lambda x, z: x.sum(1) + z.sum(1),
            (torch.randn(4, 2), torch.randn(4, 3)),
            fake=torch.randn(4, 2),
            points="interpolates",
        )


def test_interpolates_need_matching_fakes():
    with pytest.raises(ValueError, match="points='interpolates' needs `fake`"):
        gradient_penalty(lambda x: x.sum(1), torch.randn(4, 2), points="interpolates")
    with pytest.raises(ValueError, match="`points` must be one of"):
        gradient_penalty(lambda x: x.sum(1), torch.randn(4, 2), points="fake")
