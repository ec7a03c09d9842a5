"""One process at batch 2B equals two DDP processes (gloo, CPU) at batch B, for every GAN variant.

One DDP launch (a subprocess, see ``_subprocess_ranks``) trains all variants; the single-process references
run in-process. Generator, discriminator, MINE's T, its moving average, the Adam states' effect on the
weights and the shared monitor's estimator must agree after 20 iterations.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from _subprocess_ranks import run_ranks
from torch import nn

from mine_gan.estimators import ConcatCritic
from mine_gan.models import InfoGAN
from mine_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from mine_gan.nets.sync_batch_norm import GlobalBatchNorm1d, GlobalBatchNorm2d

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("_gan_ddp_run", HERE / "_gan_ddp_run.py")
run = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_gan_ddp_run", run)
_spec.loader.exec_module(run)


@pytest.fixture(scope="module")
def ddp_ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("gan_ddp")
    return run_ranks([str(HERE / "_gan_ddp_run.py"), "--world", "2", "--out", str(out)], out)


@pytest.fixture(scope="module")
def single() -> dict[str, Any]:
    torch.set_num_threads(1)
    return run.fit_all(1)


@pytest.mark.parametrize("variant", run.VARIANTS)
def test_two_processes_at_b_equal_one_process_at_2b(ddp_ranks, single, variant):
    reference = single[variant]["state"]
    assert any(k.startswith("monitor/") for k in reference) == (variant == "infogan_shared")
    for rank in ddp_ranks:
        assert rank[variant]["steps"] == single[variant]["steps"]
        assert rank[variant]["state"].keys() == reference.keys()
        for key, value in reference.items():
            torch.testing.assert_close(rank[variant]["state"][key], value, rtol=0, atol=1e-5, msg=key)


@pytest.mark.parametrize("variant", run.VARIANTS)
def test_each_rank_draws_its_rows_of_the_global_latents(ddp_ranks, single, variant):
    """The ranks' first latents differ and are, stacked, the single process's global batch; the final
    states are bit-identical across ranks."""
    first = [rank[variant]["first_latent"] for rank in ddp_ranks]
    assert first[0].shape[0] == run.GLOBAL_BATCH // run.WORLD
    assert not torch.equal(first[0], first[1])
    torch.testing.assert_close(torch.cat(first), single[variant]["first_latent"], rtol=0, atol=0)
    for key, value in ddp_ranks[0][variant]["state"].items():
        assert torch.equal(ddp_ranks[1][variant]["state"][key], value), key


class _BatchNormCritic(nn.Module):
    """T(x, z) with batch norm: it sees the all-gathered global batch, so it must stay plain batch norm."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16 * 16 + 3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, x, z):
        return self.net(torch.cat([x.flatten(1), z], dim=1)).squeeze(1)


def _batch_norms(module: nn.Module) -> list[type]:
    return [type(m) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize(("world", "synchronized"), [(1, False), (2, True)])
def test_batch_norm_of_the_per_process_networks_uses_the_global_batch(world, synchronized):
    model = InfoGAN(
        DCGANGenerator(5, 1, 16, base_channels=4),
        DCGANDiscriminator(1, 16, base_channels=4, hidden_dim=16),
        noise_dim=2,
        categorical_dims=[3],
        critic=_BatchNormCritic(),
    )
    model._rank_and_world = lambda: (0, world)  # what setup reads from the trainer
    model._synchronize_batch_norm()
    expected = [GlobalBatchNorm1d, GlobalBatchNorm2d] if synchronized else [nn.BatchNorm1d, nn.BatchNorm2d]
    assert _batch_norms(model.generator) == expected
    assert _batch_norms(model.mine) == [nn.BatchNorm1d]  # T is fed the gathered batch already


def test_batch_norm_in_a_penalized_discriminator_is_refused_on_several_processes():
    discriminator = MLPDiscriminator(2, (16,))
    discriminator.extra = nn.BatchNorm1d(16)  # a user's discriminator with batch norm
    model = InfoGAN(
        MLPGenerator(5, 2, (16,)),
        discriminator,
        noise_dim=2,
        categorical_dims=[3],
        critic=ConcatCritic(2, 3),
        d_penalty=1.0,
    )
    model._rank_and_world = lambda: (0, 2)
    with pytest.raises(
        ValueError,
        match=r"the discriminator \(MLPDiscriminator\) has batch norm and `d_penalty` is 1.0: on 2 processes .* "
        r"use a discriminator without batch norm, `d_penalty=0`, or one process",
    ):
        model._synchronize_batch_norm()
    model._rank_and_world = lambda: (0, 1)
    model._synchronize_batch_norm()  # one process: nothing to synchronize, nothing refused
    assert _batch_norms(model.discriminator) == [nn.BatchNorm1d]
