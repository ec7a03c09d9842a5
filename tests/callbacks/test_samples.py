"""SamplePictures and ModeHistogram on tiny runs with file (CSV) logging: what is written, and what is not touched."""

from __future__ import annotations

import csv

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from mine_gan.callbacks import ModeHistogram, SamplePictures
from mine_gan.callbacks.samples import image_grid
from mine_gan.data import GaussianMixture
from mine_gan.metrics import ModeCoverage
from mine_gan.models import InfoGAN
from mine_gan.nets import MLPDiscriminator, MLPGenerator
from mine_gan.seeding import seeded_generator


def _model() -> InfoGAN:
    return InfoGAN(
        MLPGenerator(5, 2, hidden_dims=(16,)), MLPDiscriminator(2, hidden_dims=(16,)), noise_dim=2,
        categorical_dims=[], continuous_dim=3, lr_g=1e-3, lr_d=1e-3, lr_mi=1e-3,
    )  # fmt: skip


def _fit(tmp_path, callbacks, seed=0, batches=3):
    pl.seed_everything(seed, verbose=False)
    model, data = _model(), GaussianMixture(num_samples=64 * batches, batch_size=64, num_val_samples=128, seed=seed)
    trainer = pl.Trainer(
        max_epochs=1, accelerator="cpu", logger=CSVLogger(tmp_path, name="run"), callbacks=callbacks,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(model, data)
    return model, trainer


def test_pictures_every_n_batches_and_at_fit_end(tmp_path):
    pictures = SamplePictures(every_n_steps=2, num_samples=200, traversal_steps=4)
    _, trainer = _fit(tmp_path, [pictures])
    # batches 1 and 3 (global steps 3 and 9: three optimizer steps per batch), then the end of fit
    assert pictures.logged == ["samples", "traversal"] * 3
    media = sorted(p.name for p in (tmp_path / "run" / "version_0" / "media").glob("*.png"))
    assert media == [f"{kind}_step{step:07d}.png" for kind in ("samples", "traversal") for step in (3, 9)]
    assert trainer.global_step == 9


def test_pictures_leave_the_run_unchanged(tmp_path):
    # The pictures draw from their own seeded stream: the trained weights are the same with and without them.
    with_pictures, _ = _fit(tmp_path / "a", [SamplePictures(every_n_steps=1, num_samples=50)])
    without, _ = _fit(tmp_path / "b", [])
    for p, q in zip(with_pictures.state_dict().values(), without.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_image_grid_maps_tanh_range_to_pixels():
    images = torch.stack([torch.full((3, 4, 4), -1.0), torch.full((3, 4, 4), 1.0)])
    grid = image_grid(images, nrow=2)
    assert grid.shape == (8, 14, 3) and grid.dtype.name == "uint8"
    assert (grid[2:6, 2:6] == 0).all() and (grid[2:6, 8:12] == 255).all()  # black, white, padding 2 px


def test_mode_histogram_counts_match_mode_coverage(tmp_path):
    histogram = ModeHistogram(num_samples=500, batch_size=200, seed=3)
    model, trainer = _fit(tmp_path, [histogram])
    with (tmp_path / "run" / "version_0" / "media" / "final_mode_histogram_step0000009.csv").open() as f:
        counts = [int(row["count"]) for row in csv.DictReader(f)]
    # The callback's streams: batch k of 200 samples from seeded_generator(seed, k), whatever the world size.
    reference = ModeCoverage(trainer.datamodule.centers, trainer.datamodule.std)
    for k, n in enumerate((200, 200, 100)):
        reference.update(model.sample(n, rng=seeded_generator(3, k)))
    assert counts == reference.counts.tolist()
    expected = reference.compute()
    assert histogram.result == pytest.approx({k: float(v) for k, v in expected.items()}, nan_ok=True)
    assert (tmp_path / "run" / "version_0" / "media" / "final_mode_histogram_plot_step0000009.png").exists()


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"every_n_steps": -1}, "every_n_steps"), ({"num_samples": 0}, "num_samples")]
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SamplePictures(**kwargs)


def test_module_without_sample_is_refused_at_setup():
    class NotAGAN(pl.LightningModule):
        pass

    trainer = pl.Trainer(accelerator="cpu", logger=False, callbacks=[SamplePictures()])
    with pytest.raises(TypeError, match="sample"):
        SamplePictures().setup(trainer, NotAGAN(), "fit")
