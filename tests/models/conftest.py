"""Tiny networks, data and a fast Trainer for the GAN module tests."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


def fast_trainer(**kwargs) -> pl.Trainer:
    options = dict(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    options.update(kwargs)
    return pl.Trainer(**options)


@pytest.fixture
def trainer_factory():
    return fast_trainer


@pytest.fixture
def flat_loader() -> DataLoader:
    """32 points in 2-D, batches of 16 (x only, like the mixture data modules)."""
    g = torch.Generator().manual_seed(0)
    return DataLoader(torch.randn(32, 2, generator=g), batch_size=16)


@pytest.fixture
def image_loader() -> DataLoader:
    """16 labelled 1×16×16 images in [-1, 1], batches of 8 (like the image data modules)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 16, 16, generator=g) * 2 - 1
    return DataLoader(TensorDataset(x, torch.randint(10, (16,), generator=g)), batch_size=8)
