import math

import pytest
import torch

from mine_gan.data.invertible_maps import MIXING_MAPS, CouplingFlow, RandomRotation, Spiral, mixing_map


@pytest.mark.parametrize("name", MIXING_MAPS)
@pytest.mark.parametrize("dim", [2, 3, 25])
def test_every_map_is_undone_by_its_inverse(name, dim):
    f = mixing_map(name, dim, torch.Generator().manual_seed(dim))
    v = 2 * torch.randn(500, dim, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(f.inverse(f(v)), v, atol=1e-4)
    assert torch.allclose(f(f.inverse(v)), v, atol=1e-4)


def test_rotation_is_orthogonal_and_keeps_inner_products():
    rotate = RandomRotation(6, torch.Generator().manual_seed(0))
    assert torch.allclose(rotate.matrix @ rotate.matrix.T, torch.eye(6), atol=1e-5)
    u, v = torch.randn(2, 10, 6).unbind()
    assert torch.allclose((rotate(u) * rotate(v)).sum(1), (u * v).sum(1), atol=1e-5)


def test_spiral_keeps_the_radius_and_turns_by_an_angle_that_grows_with_it():
    spiral = Spiral(2, turns_per_unit=0.5, rng=torch.Generator().manual_seed(0))
    direction = torch.tensor([[1.0, 0.0]])
    radii = torch.tensor([0.5, 1.0, 1.5]).unsqueeze(1)
    y = spiral(radii * direction)
    assert torch.allclose(y.norm(dim=1), radii.squeeze(1), atol=1e-6)
    # Angle turned by ω s r, ω in [0.5, 1], s = π per unit: a different direction for every radius.
    angles = torch.atan2(y[:, 1], y[:, 0])
    turned = torch.remainder(angles - angles[0], 2 * math.pi)
    omega = float(spiral.speed[0]) / math.pi
    expected = torch.remainder(torch.tensor([0.0, 0.5, 1.0]) * omega * math.pi, 2 * math.pi)
    assert torch.allclose(turned, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["spiral", "coupling"])
def test_non_linear_maps_mix_coordinates(name):
    f = mixing_map(name, 4, torch.Generator().manual_seed(0))
    v = torch.randn(200, 4, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(f(2 * v), 2 * f(v), atol=1e-2)  # not linear
    nudged = v.clone()
    nudged[:, 0] += 0.1
    moved = (f(nudged) - f(v)).abs().mean(0)
    assert bool((moved > 1e-3).all())  # one input coordinate moves every output coordinate


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Spiral(1), "`dim` must be at least 2 for a Spiral, got 1"),
        (lambda: CouplingFlow(1), "`dim` must be at least 2 for a CouplingFlow, got 1"),
        (lambda: Spiral(2, turns_per_unit=0.0), "turns_per_unit"),
        (lambda: mixing_map("swirl", 2), "`name` must be one of"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()
