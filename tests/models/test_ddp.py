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
