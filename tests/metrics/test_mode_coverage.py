import math

import pytest
import torch
from torchmetrics.utilities.data import dim_zero_sum

from mine_gan.data import GaussianMixture, mixture_centers
from mine_gan.metrics import ModeCoverage
from mine_gan.metrics.functional import histogram_kl_to_uniform, mode_coverage

GRID = mixture_centers("grid")


def _values(result):
    return {k: float(v) for k, v in result.items()}


@pytest.mark.parametrize("layout", ["grid", "ring"])
def test_perfect_samples_cover_every_mode_with_zero_kl(layout):
    centers = mixture_centers(layout)
    samples = centers.repeat(20, 1)  # 20 samples exactly on each centre
    metric = ModeCoverage(centers, std=0.05)
    metric.update(samples)
    assert _values(metric.compute()) == {"modes": len(centers), "high_quality": 1.0, "kl": 0.0}


def test_samples_of_the_true_mixture():
    dm = GaussianMixture(std=0.05)
    samples = dm.sample(25_000, torch.Generator().manual_seed(0))
    out = _values(mode_coverage(samples, dm.centers, dm.std))
    assert out["modes"] == 25
    # In 2-D, |x - μ|² / σ² is χ²₂, so P(within 3σ) = 1 - exp(-9/2).
    expected, sd = 1 - math.exp(-4.5), math.sqrt(math.exp(-4.5) * (1 - math.exp(-4.5)) / 25_000)
    assert abs(out["high_quality"] - expected) < 5 * sd
    # A multinomial histogram of n samples over K bins has E[KL] ≈ (K - 1) / (2n).
    assert out["kl"] < 2 * 24 / (2 * 25_000 * expected)  # mean + ~3.5 sd of that χ²-like statistic


@pytest.mark.parametrize("layout", ["grid", "ring"])
def test_collapse_on_one_mode(layout):
    centers = mixture_centers(layout)
    samples = centers[3] + 0.01 * torch.randn(500, 2, generator=torch.Generator().manual_seed(1))
    out = _values(mode_coverage(samples, centers, std=0.05))
    assert out["modes"] == 1 and out["high_quality"] == 1.0
    assert out["kl"] == pytest.approx(math.log(len(centers)), abs=1e-6)


def test_off_mode_samples_are_not_high_quality():
    midpoints = (GRID[:-1] + GRID[1:]) / 2  # halfway between neighbours: 20 std from both
    out = mode_coverage(midpoints.repeat(40, 1), GRID, std=0.05)
    assert int(out["modes"]) == 0 and float(out["high_quality"]) == 0.0
    assert math.isnan(float(out["kl"]))  # no high-quality sample: no histogram to compare


def test_radius_is_num_std_standard_deviations():
    offsets = torch.tensor([[0.149, 0.0], [0.151, 0.0], [0.0, -0.149], [0.0, 0.2]])
    out = mode_coverage(GRID[12] + offsets, GRID, std=0.05, min_count=1)
    assert float(out["high_quality"]) == 0.5
    wide = mode_coverage(GRID[12] + offsets, GRID, std=0.05, num_std=5.0, min_count=1)
    assert float(wide["high_quality"]) == 1.0


def test_min_count_threshold():
    samples = torch.cat([GRID[0].repeat(20, 1), GRID[1].repeat(19, 1)])
    assert int(mode_coverage(samples, GRID, std=0.05)["modes"]) == 2
    assert int(mode_coverage(samples, GRID, std=0.05, min_count=20)["modes"]) == 1


def test_pacgan_counts_a_mode_with_one_high_quality_sample():
    # PacGAN's evaluation: a mode is captured when its bin of high-quality samples is non-zero; the reverse
    # KL is that histogram's KL to uniform. 2,499 samples on mode 0 and one on mode 7.
    samples = torch.cat([GRID[0].repeat(2499, 1), GRID[7][None] + 0.1])
    out = _values(mode_coverage(samples, GRID, std=0.05))
    p = torch.tensor([2499.0, 1.0]) / 2500
    assert out["modes"] == 2 and out["high_quality"] == 1.0
    assert out["kl"] == pytest.approx(float((p * (25 * p).log()).sum()))


def test_kl_of_a_known_histogram():
    counts = torch.tensor([3.0, 1.0, 0.0, 0.0])
    p = torch.tensor([0.75, 0.25])
    assert float(histogram_kl_to_uniform(counts)) == pytest.approx(float((p * (4 * p).log()).sum()))


def test_class_accumulates_like_the_function_on_all_samples():
    samples = GaussianMixture().sample(3000, torch.Generator().manual_seed(2))
    samples[:1000] = GRID[0] + 0.01 * samples[:1000]  # skew the histogram so that KL is not ~0
    metric = ModeCoverage(GRID, std=0.05)
    for chunk in samples.split(700):
        metric.update(chunk)
    expected = mode_coverage(samples, GRID, std=0.05)
    for key, value in metric.compute().items():
        torch.testing.assert_close(value, expected[key])


def test_ddp_reduction_equals_one_process():
    samples = GaussianMixture(std=0.05).sample(2000, torch.Generator().manual_seed(3))
    samples[::7] += 0.5  # some off-mode samples
    whole = ModeCoverage(GRID, std=0.05)
    whole.update(samples)
    rank0, rank1 = ModeCoverage(GRID, std=0.05), ModeCoverage(GRID, std=0.05)
    rank0.update(samples[:1200])
    rank1.update(samples[1200:])
    assert all(fx is dim_zero_sum for fx in rank0._reductions.values())
    rank0.merge_state(rank1)  # what the "sum" reduction does across processes
    for key, value in rank0.compute().items():
        torch.testing.assert_close(value, whole.compute()[key])


def test_reset_and_from_datamodule():
    dm = GaussianMixture(layout="ring", std=0.02)
    metric = ModeCoverage.from_datamodule(dm, min_count=1)
    assert metric.std == 0.02 and torch.equal(metric.centers, dm.centers)
    metric.update(dm.centers)
    assert int(metric.compute()["modes"]) == 8
    metric.reset()
    metric.update(dm.centers[:2])
    assert int(metric.compute()["modes"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"centers": torch.zeros(3)}, "centers"),
        ({"std": 0.0}, "std"),
        ({"num_std": -1.0}, "num_std"),
        ({"min_count": 0}, "min_count"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, named):
    args = {"centers": GRID, "std": 0.05} | kwargs
    with pytest.raises(ValueError, match=named):
        ModeCoverage(**args)


def test_samples_of_the_wrong_shape():
    with pytest.raises(ValueError, match="samples"):
        ModeCoverage(GRID, std=0.05).update(torch.zeros(10, 3))
