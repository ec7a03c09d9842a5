"""``estimate_mi`` and ``heldout_estimate`` with their data and random streams on a GPU.

The ``meta`` device stands for the GPU: ``_device_rules`` makes torch's draws as strict as CUDA's (a
generator must live on the draw's device type) and gives ``torch.Generator(device="meta")`` a generator that
says it is on ``meta``.

* ``estimate_mi`` draws MINE's shuffles from a stream on the data's device; with ``seed=None`` that stream
  must be fresh at every call (it was seeded with 0), and fixed by a seed.
* ``heldout_estimate`` drew its partners on the CPU whatever ``rng``'s device, so a GPU ``rng`` failed.
* The weight average of the training loop keeps its step count beside the weights: ``AveragedModel`` keeps
  it on the CPU unless told a device and copies it to the GPU for every parameter at every step.
"""

from __future__ import annotations

import pytest
import torch
from _device_rules import meta_generators, strict_draws
from torch import nn

from mine_gan.estimators import MINE, ConcatCritic, estimate
from mine_gan.estimators.estimate import estimate_mi, heldout_estimate
from mine_gan.estimators.training import averaged_model


class _Stop(Exception):
    pass


def test_the_device_shuffle_stream_is_fresh_without_a_seed_and_fixed_by_one(monkeypatch):
    streams: list[tuple[str, int]] = []

    def training_loop(*args, device_rng: torch.Generator, **kwargs):  # what estimate_mi hands its training loop
        streams.append((device_rng.device.type, device_rng.initial_seed()))
        raise _Stop

    monkeypatch.setattr(estimate, "train_estimator", training_loop)
    x = torch.randn(400, 2, generator=torch.Generator().manual_seed(0))
    with meta_generators(monkeypatch):
        for seed in (None, None, 3, 3):
            with pytest.raises(_Stop):
                estimate_mi(x, x + 1, device="meta", seed=seed, batch_size=32)
    assert [device for device, _ in streams] == ["meta"] * 4
    assert streams[0][1] != streams[1][1]  # seed=None: a fresh stream at every call
    assert streams[2][1] == streams[3][1]  # a seed fixes it


class _ShapeOnlyCritic(nn.Module):
    """Scores from the rows' count alone, on the CPU: the data may live on ``meta`` (no values)."""

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.linspace(0.0, 1.0, x.shape[0])


def test_heldout_partners_are_drawn_on_the_rngs_device(monkeypatch):
    x, z = torch.empty(50, 2, device="meta"), torch.empty(50, 2, device="meta")
    with meta_generators(monkeypatch):
        rng = torch.Generator(device="meta").manual_seed(0)  # on the data's device, as a GPU user's would be
        with strict_draws(monkeypatch) as draws:
            value, stderr = heldout_estimate(MINE(_ShapeOnlyCritic()), x, z, marginal_pairs=2, rng=rng)
    assert draws == [("meta", "meta")]
    assert isinstance(value, float) and isinstance(stderr, float)


def test_the_weight_average_counts_its_steps_on_the_estimators_device():
    mine = MINE(ConcatCritic(2, 2, hidden_dims=(4,))).to("meta")
    average = averaged_model(mine, decay=0.9)
    assert average.n_averaged.device.type == "meta"
    assert {p.device.type for p in average.parameters()} == {"meta"}
