"""``mine-gan fit`` at the precisions Lightning offers, as a user runs it: the experiments' YAML files with their
picture and mode-histogram callbacks, shrunk to a few batches.

``64-true`` once crashed in ``GANModule.sample`` (float32 latents for a float64 generator), ``bf16-true`` in
``InfoGAN.code_traversal`` (float32 noise beside a bfloat16 code), and ``16-true`` trained to NaN after one
step (Adam's eps of 1e-8 is 0 in float16). Every draw, batch and optimizer must follow the module's dtype.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mine_gan.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "gaussians25": [
        str(ROOT / "experiments" / "gaussians25" / "gan_mine.yaml"),
        "--model.init_args.generator.init_args.hidden_dims=[16]",
        "--model.init_args.discriminator.init_args.hidden_dims=[16]",
        "--data.init_args.num_samples=256",
        "--data.init_args.batch_size=64",
        "--data.init_args.num_val_samples=256",
    ],
    "bigan_digits": [
        str(ROOT / "experiments" / "bigan_digits" / "bigan_mine.yaml"),
        "--model.init_args.generator.init_args.base_channels=4",
        "--model.init_args.encoder.init_args.base_channels=4",
        "--model.init_args.discriminator.init_args.base_channels=4",
        "--model.init_args.discriminator.init_args.hidden_dim=16",
        # scikit-learn's 8x8 digits at 16x16: the same module on data that loads in milliseconds
        "--data=mine_gan.data.Digits",
        "--data.init_args.image_size=16",
        "--data.init_args.batch_size=8",
    ],
}
#: precision -> the dtype of the module's parameters (mixed precision keeps float32 weights)
PRECISIONS = {
    "64-true": torch.float64,
    "bf16-mixed": torch.float32,
    "bf16-true": torch.bfloat16,
    "16-true": torch.float16,
}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("config", CONFIGS)
def test_fit_runs_at_every_precision(tmp_path, config, precision):
    args = CONFIGS[config]
    run = cli(
        [
            "fit",
            "--config",
            args[0],
            *args[1:],
            f"--trainer.precision={precision}",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.limit_val_batches=1",
            "--trainer.log_every_n_steps=1",
            "--trainer.logger=CSVLogger",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
        ]
    )
    model, dtype = run.model, PRECISIONS[precision]
    assert {p.dtype for p in model.parameters()} == {dtype}
    logged = run.trainer.callback_metrics
    for key in ("train/d_loss", "train/g_loss", "train/mi", "val/mi"):
        assert torch.isfinite(logged[key]), key  # 16-true: NaN after Adam's first step before its eps was fixed
    assert model.sample(4, torch.Generator().manual_seed(0)).dtype == dtype
    # The YAML's callbacks ran on the module at this precision: pictures at the end of fit (and the
    # mixture's code traversal and final mode histogram).
    media = {p.name.split("_step")[0] for p in tmp_path.rglob("*") if p.suffix in (".png", ".csv")}
    expected = {"samples", "metrics.csv"}
    if config == "gaussians25":
        expected |= {"traversal", "final_mode_histogram", "final_mode_histogram_plot"}
        assert model.code_traversal(3).dtype == dtype
    assert expected <= media
