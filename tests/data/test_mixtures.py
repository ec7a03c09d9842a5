import math

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

import mine_gan.data.sampled as sampled
from mine_gan.data import GaussianMixture, mixture_centers


def test_grid_is_the_papers_5x5_grid():
    centers = mixture_centers("grid")
    expected = torch.tensor([(i, j) for i in (-4.0, -2.0, 0.0, 2.0, 4.0) for j in (-4.0, -2.0, 0.0, 2.0, 4.0)])
    assert torch.equal(centers, expected)


@pytest.mark.parametrize("num_modes", [3, 8, 12])
def test_ring_centers_are_evenly_spaced_on_the_circle(num_modes):
    centers = mixture_centers("ring", num_modes, scale=2.0)
    assert centers.shape == (num_modes, 2)
    torch.testing.assert_close(centers.norm(dim=1), torch.full((num_modes,), 2.0))
    neighbour_gaps = (centers - centers.roll(1, dims=0)).norm(dim=1)
    torch.testing.assert_close(neighbour_gaps, torch.full((num_modes,), 4 * math.sin(math.pi / num_modes)))


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"layout": "spiral"}, "layout"),
        ({"layout": "grid", "num_modes": 24}, "num_modes"),
        ({"std": 0.0}, "std"),
        ({"scale": -1.0}, "scale"),
        ({"num_samples": 0}, "num_samples"),
        ({"batch_size": -3}, "batch_size"),
        ({"num_val_samples": 0}, "num_val_samples"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, named):
    with pytest.raises(ValueError, match=named):
        GaussianMixture(**kwargs)


@pytest.mark.parametrize(("layout", "std", "radius"), [("grid", 0.05, 4 * math.sqrt(2)), ("ring", 0.01, 1.0)])
def test_defaults_are_pacgans_layouts(layout, std, radius):
    # PacGAN, Table 1: 5x5 grid {-4, ..., 4}^2 with std 0.05; 8 modes on the unit circle with std 0.01.
    dm = GaussianMixture(layout)
    assert dm.std == std
    assert float(dm.centers.norm(dim=1).max()) == pytest.approx(radius)
    torch.testing.assert_close(mixture_centers(layout), dm.centers)


def test_contract_attributes_before_setup():
    dm = GaussianMixture(layout="ring", std=0.02)
    assert dm.dims == (2,)
    assert dm.centers.shape == (8, 2) and dm.std == 0.02 and dm.num_modes == 8
    assert dm.hparams["layout"] == "ring" and dm.hparams["std"] == 0.02


def test_samples_follow_the_mixture():
    dm = GaussianMixture(std=0.05, seed=1)
    x = dm.sample(50_000, torch.Generator().manual_seed(0))
    nearest = torch.cdist(x, dm.centers).argmin(dim=1)
    offsets = x - dm.centers[nearest]
    # Components are 40 std apart, so the nearest centre is the true component.
    torch.testing.assert_close(offsets.mean(0), torch.zeros(2), atol=5 * 0.05 / math.sqrt(50_000), rtol=0)
    torch.testing.assert_close(offsets.std(0), torch.full((2,), 0.05), atol=0.05 * 5 / math.sqrt(2 * 50_000), rtol=0)
    counts = torch.bincount(nearest, minlength=25).float()
    expected, sd = 50_000 / 25, math.sqrt(50_000 * (1 / 25) * (24 / 25))
    assert (counts - expected).abs().max() < 5 * sd


def _epoch(loader):
    return torch.cat(list(loader))


def test_epochs_are_fresh_deterministic_and_full_batches():
    dm = GaussianMixture(num_samples=1000, batch_size=128, seed=3)
    loader = dm.train_dataloader()
    assert len(loader) == 1000 // 128
    first, second = _epoch(loader), _epoch(loader)
    assert first.shape == (7 * 128, 2) and second.shape == first.shape
    assert not torch.equal(first, second)
    again = GaussianMixture(num_samples=1000, batch_size=128, seed=3).train_dataloader()
    assert torch.equal(_epoch(again), first) and torch.equal(_epoch(again), second)
    other_seed = GaussianMixture(num_samples=1000, batch_size=128, seed=4).train_dataloader()
    assert not torch.equal(_epoch(other_seed), first)


def test_resuming_from_state_dict_continues_the_stream():
    dm = GaussianMixture(num_samples=256, batch_size=64)
    _epoch(dm.train_dataloader())
    state = dm.state_dict()
    expected = _epoch(dm.train_dataloader())
    resumed = GaussianMixture(num_samples=256, batch_size=64)
    resumed.load_state_dict(state)
    assert torch.equal(_epoch(resumed.train_dataloader()), expected)


@pytest.mark.parametrize("split", ["val", "test"])
def test_evaluation_sets_are_fixed_and_exact_size(split):
    dm = GaussianMixture(num_val_samples=1000, batch_size=300)
    loader = getattr(dm, f"{split}_dataloader")()
    assert [len(b) for b in loader] == [300, 300, 300, 100] and len(loader) == 4
    assert torch.equal(_epoch(loader), _epoch(loader))
    assert not torch.equal(_epoch(dm.val_dataloader()), _epoch(dm.test_dataloader()))


def test_ranks_draw_different_points_and_share_the_evaluation_set(monkeypatch):
    dm = GaussianMixture(num_samples=1024, num_val_samples=1001, batch_size=128)
    per_rank_train, per_rank_val = [], []
    for rank in (0, 1):
        monkeypatch.setattr(sampled, "_rank_and_world", lambda rank=rank: (rank, 2))
        per_rank_train.append(_epoch(GaussianMixture(num_samples=1024, batch_size=128).train_dataloader()))
        per_rank_val.append(_epoch(dm.val_dataloader()))
    assert [len(t) for t in per_rank_train] == [512, 512]
    assert not torch.equal(per_rank_train[0], per_rank_train[1])
    assert [len(v) for v in per_rank_val] == [501, 500]
    assert torch.unique(torch.cat(per_rank_val), dim=0).shape[0] == 1001


class _CountBatches(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 1)
        self.seen = []

    def training_step(self, batch, batch_idx):
        self.seen.append(batch.clone())
        return self.layer(batch).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_lightning_sees_epochs_of_fresh_batches():
    model = _CountBatches()
    dm = GaussianMixture(num_samples=256, batch_size=64)
    trainer = pl.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        limit_val_batches=0,
    )
    trainer.fit(model, datamodule=dm)
    assert len(model.seen) == 8 and all(b.shape == (64, 2) for b in model.seen)
    assert not torch.equal(torch.cat(model.seen[:4]), torch.cat(model.seen[4:]))
