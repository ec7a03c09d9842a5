"""What every discriminator shares: a logit head and an optional InfoGAN code head on one body."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["DiscriminatorHeads"]


class DiscriminatorHeads(nn.Module):
    """Base of the discriminators: subclasses define ``features(x, z)`` and set ``head`` and ``code_head``.

    ``code_head`` (``None`` without a code) is the Q network of InfoGAN (Chen et al. 2016), which shares
    the discriminator's body.
    """

    head: nn.Module
    code_head: nn.Module | None

    def features(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, z)).squeeze(1)

    def forward_with_code(self, x: Tensor, z: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Logits and code-head outputs from one pass through the shared body."""
        if self.code_head is None:
            raise ValueError("this discriminator has no code head: construct it with `code_dim > 0`")
        h = self.features(x, z)
        return self.head(h).squeeze(1), self.code_head(h)
