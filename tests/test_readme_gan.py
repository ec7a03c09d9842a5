"""README's "Your own GAN with MINE" example, executed as written: it trains, and its MI term acts."""

from __future__ import annotations

import re
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _example() -> dict:
    section = README[README.index("### Your own GAN with MINE") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def _fit(mi_weight: float) -> torch.nn.Module:
    my_gan = _example()["MyGAN"]
    torch.manual_seed(0)
    generator = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    discriminator = torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.LeakyReLU(0.2), torch.nn.Linear(32, 1), torch.nn.Flatten(0)
    )
    model = my_gan(generator, discriminator, mi_weight=mi_weight)
    data = DataLoader(torch.randn(64, 2, generator=torch.Generator().manual_seed(1)), batch_size=16)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)  # fmt: skip
    trainer.fit(model, data)
    assert trainer.global_step == 3 * 4  # D, T and G stepped on each of the 4 batches
    return model


def test_readme_own_gan_trains_and_its_mi_term_changes_the_generator():
    with_mi, without = _fit(1.0), _fit(0.0)
    assert with_mi.mi_step.mi_weight == 1.0
    moved = [
        not torch.equal(a, b)
        for a, b in zip(with_mi.generator.parameters(), without.generator.parameters(), strict=True)
    ]
    assert any(moved)
    for a, b in zip(with_mi.discriminator.parameters(), without.discriminator.parameters(), strict=True):
        assert torch.isfinite(a).all() and torch.isfinite(b).all()
