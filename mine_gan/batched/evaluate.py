"""Train one configuration for many seeds and score each seed's generator on PacGAN's 2-D protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mine_gan.batched.config import GANConfig
from mine_gan.batched.trainer import BatchedGANTrainer
from mine_gan.data import GaussianMixture
from mine_gan.metrics.functional import mode_coverage

__all__ = ["train_and_score"]


def train_and_score(
    config: GANConfig, data: GaussianMixture, seeds: Sequence[int], num_samples: int = 2_500
) -> tuple[list[dict[str, Any]], BatchedGANTrainer]:
    r"""Train ``config`` on ``data`` for every seed at once, then score ``num_samples`` samples per seed.

    Scores are PacGAN's (Lin et al., 2018, Table 1; :func:`mine_gan.metrics.functional.mode_coverage`):
    modes with at least one sample within 3σ, the percentage of such high-quality samples, and the reverse
    KL :math:`\mathrm{KL}(p_G \,\|\, \mathrm{uniform})` of their mode histogram.

    Args:
        config: the recipe.
        data: the mixture (its ``centers`` and ``std`` define the scoring).
        seeds: one run per seed.
        num_samples: generated samples scored per seed (2,500 in PacGAN).

    Returns:
        One row per seed (``seed``, ``modes``, ``num_modes``, ``high_quality_pct``, ``kl``, ``iterations``,
        ``ms_per_iteration``: wall time of one batched iteration of all seeds) and the trainer.

    Example:
        >>> cfg = GANConfig(noise_dim=2, hidden_dims=(8,), batch_size=16, iterations=2)
        >>> rows, _ = train_and_score(cfg, GaussianMixture("ring"), seeds=[0, 1], num_samples=100)
        >>> [r["seed"] for r in rows], rows[0]["num_modes"]
        ([0, 1], 8)
    """
    trainer = BatchedGANTrainer(config, data, seeds)
    trainer.train()
    samples = trainer.sample(num_samples)
    ms = 1000.0 * trainer.seconds / max(trainer.iteration, 1)
    rows = []
    for seed, xy in zip(trainer.seeds, samples, strict=True):
        scores = {k: float(v) for k, v in mode_coverage(xy, data.centers, data.std).items()}
        rows.append(
            {
                "seed": seed,
                "modes": int(round(scores["modes"])),
                "num_modes": int(data.centers.shape[0]),
                "high_quality_pct": 100.0 * scores["high_quality"],
                "kl": scores["kl"],
                "iterations": trainer.iteration,
                "ms_per_iteration": ms,
            }
        )
    return rows, trainer
