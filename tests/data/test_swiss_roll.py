import math

import pytest
import torch

from mine_gan.data import SwissRoll


def test_noise_free_roll_lies_on_the_spiral():
    dm = SwissRoll(noise=0.0, scale=0.5)
    x = dm.sample(4000, torch.Generator().manual_seed(0)) / 0.5
    t = x.norm(dim=1)  # the radius of the point t·(cos t, sin t) is t
    assert t.min() >= 1.5 * math.pi - 1e-4 and t.max() <= 4.5 * math.pi + 1e-4
    torch.testing.assert_close(torch.stack([t * t.cos(), t * t.sin()], 1), x, atol=1e-3, rtol=0)
    # The angle is uniform, so the radius is uniform on [1.5π, 4.5π].
    assert abs(float(t.mean()) - 3 * math.pi) < 5 * (3 * math.pi / math.sqrt(12)) / math.sqrt(4000)


def test_noise_has_the_requested_std():
    clean = SwissRoll(noise=0.0, seed=2).sample(20_000, torch.Generator().manual_seed(5))
    noisy = SwissRoll(noise=0.25, seed=2).sample(20_000, torch.Generator().manual_seed(5))
    # Same generator: same angles, then the noise draw.
    residual = (noisy - clean) / (1 / 7.5)
    torch.testing.assert_close(residual.std(0), torch.full((2,), 0.25), atol=0.01, rtol=0)


def test_batches_and_dims():
    dm = SwissRoll(num_samples=300, batch_size=100)
    batches = list(dm.train_dataloader())
    assert dm.dims == (2,) and len(batches) == 3 and all(b.shape == (100, 2) for b in batches)


@pytest.mark.parametrize(
    ("kwargs", "named"), [({"noise": -0.1}, "noise"), ({"turns": 0}, "turns"), ({"scale": 0}, "scale")]
)
def test_bad_arguments(kwargs, named):
    with pytest.raises(ValueError, match=named):
        SwissRoll(**kwargs)
