import pytest
import torch

from mine_gan import ConcatCritic, ConvCritic, SeparableCritic
from mine_gan.estimators import pairwise_scores


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
