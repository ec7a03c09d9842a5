"""The end-of-training pictures and mode histogram are drawn on the training device, before Lightning's teardown.

Lightning moves the module to the CPU in its teardown, before ``on_fit_end``: a GPU run whose callbacks draw
there samples on the CPU, loads CUDA stream states into CPU generators (``--seeds``), and all-gathers CPU
tensors over NCCL, which has no CPU backend. The runs of ``_end_of_training_run`` move the module on to
``meta`` after the teardown, so that the same mistakes fail here, and record the device and the hook of every
generator forward.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from _subprocess_ranks import run_ranks

from mine_gan.callbacks import ModeHistogram
from mine_gan.data import GaussianMixture

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("_end_of_training_run", HERE / "_end_of_training_run.py")
run = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_end_of_training_run", run)
_spec.loader.exec_module(run)


def _check(result: dict, prefixes: list[str], draws_pictures: bool = True) -> None:
    assert result["module_device"] == "meta"  # the teardown did move the module on
    final = [(hook, device) for hook, device in result["forwards"] if hook != "training"]
    assert final and set(final) == {("on_train_end", "cpu")}  # all of it before the teardown, on the training device
    expected = [p + "samples" for p in prefixes] if draws_pictures else []
    assert [key for key in result["pictures"] if "traversal" not in key] == expected
    assert {p + k for p in prefixes for k in ("modes", "high_quality")} <= set(result["histogram"])
    assert all(0 <= result["histogram"][p + "high_quality"] <= 1 for p in prefixes)


@pytest.mark.parametrize("seeds", [1, 2], ids=["one seed", "two seeds stacked"])
def test_end_of_training_work_runs_on_the_training_device_before_teardown(tmp_path, seeds):
    _check(run.fit(tmp_path, seeds=seeds), [""] if seeds == 1 else [f"seed_{k}/" for k in range(seeds)])


@pytest.mark.slow
def test_two_ddp_processes_finish_training_on_their_device_and_reduce_the_histogram_together(tmp_path):
    ranks = run_ranks([str(HERE / "_end_of_training_run.py"), "--world", "2", "--out", str(tmp_path)], tmp_path)
    for rank in ranks:
        _check(rank, [""], draws_pictures=rank["rank"] == 0)  # pictures on rank 0 only
    first, second = (rank["histogram"] for rank in ranks)  # one reduction over both ranks' samples
    assert first.keys() == second.keys()
    values = [torch.tensor([h[k] for k in first]) for h in (first, second)]
    torch.testing.assert_close(values[0], values[1], rtol=0, atol=0, equal_nan=True)  # kl: NaN without high quality


def test_the_mode_metric_reduces_on_the_strategy_root_device(tmp_path, monkeypatch):
    """torchmetrics all-gathers the metric's states where they are: they must be on the root device (NCCL)."""
    from mine_gan.metrics import ModeCoverage

    devices: list[str] = []
    compute = ModeCoverage.compute

    def recorded(self):
        devices.append(self.counts.device.type)
        return compute(self)

    monkeypatch.setattr(ModeCoverage, "compute", recorded)
    pl.seed_everything(0)
    trainer = pl.Trainer(
        strategy=run.TeardownElsewhere(device=torch.device("cpu")), max_epochs=1, limit_train_batches=2,
        limit_val_batches=0, default_root_dir=tmp_path, logger=False, callbacks=[ModeHistogram(num_samples=200)],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(run.infogan(), GaussianMixture(num_samples=128, batch_size=32, num_val_samples=64))
    assert devices == [trainer.strategy.root_device.type]
