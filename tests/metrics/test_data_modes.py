"""mode_metric: which metric a data module gets, and that every run's digits are scored by the same classifier."""

from __future__ import annotations

import pytest
import torch

from mine_gan.data import Digits, GaussianMixture, StackedDigits
from mine_gan.metrics import ModeCoverage, data_modes, mode_metric


def test_mixture_gets_its_centres_and_std_and_the_pacgan_sample_count():
    data = GaussianMixture(layout="ring", std=0.02)
    found = mode_metric(data, (2,))
    assert isinstance(found.metric, ModeCoverage) and found.num_samples == 2_500
    assert torch.equal(found.metric.centers, data.centers) and found.metric.std == 0.02


class _Recorded:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


@pytest.mark.parametrize("data_seed", [0, 5])
def test_stacked_digits_are_scored_by_the_classifier_of_the_fixed_seed_whatever_the_run_seed(monkeypatch, data_seed):
    monkeypatch.setattr(data_modes, "StackedModeCoverage", _Recorded)  # no classifier trained here
    data = StackedDigits(image_size=16, num_samples=8, num_val_samples=8, seed=data_seed)
    found = mode_metric(data, (3, 16, 16))
    assert found.num_samples == 26_000
    assert found.metric.kwargs == {"image_size": 16, "num_channels": 3}  # the metric's default classifier seed


@pytest.mark.parametrize(
    ("data", "x_shape", "stacked"),
    [
        (StackedDigits(image_size=16, num_samples=8, num_val_samples=8), (3 * 16 * 16,), True),  # flat samples
        (StackedDigits(image_size=16, num_samples=8, num_val_samples=8), (3, 16, 16), False),  # not asked for
        (Digits(image_size=16), (1, 16, 16), True),  # single digits: 10 classes, no stacks
        (None, (2,), True),
    ],
    ids=["flat", "stacked_off", "digits", "no_data"],
)
def test_data_without_a_mode_protocol_gets_none(data, x_shape, stacked):
    assert mode_metric(data, x_shape, stacked=stacked) is None
