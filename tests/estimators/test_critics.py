import pytest
import torch

from mine_gan import ConcatCritic, ConvCritic, SeparableCritic
from mine_gan.estimators import joint_and_marginal_scores, pairwise_scores
from mine_gan.nets import SeedStack


@pytest.mark.parametrize(
    "critic, x",
    [
        (ConcatCritic(3, 2, hidden_dims=(8,)), torch.randn(5, 3)),
        (SeparableCritic(3, 2, embed_dim=4, hidden_dims=(8,)), torch.randn(5, 3)),
        (ConvCritic(1, 16, z_dim=2, base_channels=4, hidden_dims=(8,)), torch.randn(5, 1, 16, 16)),
    ],
)
def test_pairwise_matrix_agrees_with_pointwise_scores(critic, x):
    z = torch.randn(5, 2)
    s = pairwise_scores(critic, x, z)
    assert s.shape == (5, 5)
    for j in range(5):
        torch.testing.assert_close(s[:, j], critic(x, z[j].expand(5, 2)), rtol=1e-4, atol=1e-5)


def test_one_dimensional_inputs_are_treated_as_single_features():
    critic = ConcatCritic(1, 1, hidden_dims=(4,))
    assert critic(torch.randn(6), torch.randn(6)).shape == (6,)


def test_conv_critic_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        ConvCritic(3, 16, z_dim=2)(torch.randn(2, 1, 16, 16), torch.randn(2, 2))


def test_concat_critic_rejects_images():
    with pytest.raises(ValueError, match="must be \\(N, D\\)"):
        ConcatCritic(4, 1)(torch.randn(2, 1, 2, 2), torch.randn(2, 1))


@pytest.mark.parametrize(
    "critic, x",
    [
        (ConcatCritic(3, 2, hidden_dims=(8,)), torch.randn(6, 3)),  # no method: one call on the 2N pairs
        (ConvCritic(3, 16, z_dim=2, base_channels=4, hidden_dims=(8,)), torch.randn(6, 3, 16, 16)),
    ],
)
def test_joint_and_marginal_scores_equal_two_pointwise_calls_with_their_gradients(critic, x):
    critic = critic.double()
    x = x.double().requires_grad_(True)
    z = torch.randn(6, 2, dtype=torch.float64)
    shuffled = z[torch.tensor([3, 0, 5, 1, 2, 4])]
    joint, marginal = joint_and_marginal_scores(critic, x, z, shuffled)
    ref_joint, ref_marginal = critic(x, z), critic(x, shuffled)
    torch.testing.assert_close(joint, ref_joint)
    torch.testing.assert_close(marginal, ref_marginal)
    # The gradients a MINE step takes (the critic's and the generator's, through x) are those of two calls.
    weights = torch.randn(12, dtype=torch.float64)
    params = [x, *critic.parameters()]
    got = torch.autograd.grad(torch.cat([joint, marginal]) @ weights, params)
    want = torch.autograd.grad(torch.cat([ref_joint, ref_marginal]) @ weights, params)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def test_stacked_conv_critic_scores_each_seed_with_its_own_network():
    nets = [ConvCritic(1, 8, z_dim=2, base_channels=2, hidden_dims=(4,)).double() for _ in range(3)]
    stack = SeedStack(nets)
    x, z = torch.randn(3 * 4, 1, 8, 8, dtype=torch.float64), torch.randn(3 * 4, 2, dtype=torch.float64)
    shuffled = z.flip(0)
    joint, marginal = joint_and_marginal_scores(stack, x, z, shuffled)
    for s, net in enumerate(nets):
        rows = slice(4 * s, 4 * (s + 1))
        torch.testing.assert_close(joint[rows], net(x[rows], z[rows]))
        torch.testing.assert_close(marginal[rows], net(x[rows], shuffled[rows]))
