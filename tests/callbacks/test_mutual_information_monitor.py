"""MutualInformationMonitor: one estimator on any number of processes, checkpointed, on any module.

One DDP launch (2 processes, gloo, through Lightning's DDP, in a subprocess) is shared by the DDP tests;
single-process runs happen in-process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from _subprocess_ranks import run_ranks
from pytorch_lightning.callbacks import ModelCheckpoint

from mine_gan.callbacks import MutualInformationMonitor
from mine_gan.estimators import MINE, ConcatCritic, SharedEstimatorProvider, find_shared_estimator

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("_monitor_run", HERE / "_monitor_run.py")
run = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_monitor_run", run)
_spec.loader.exec_module(run)

UPDATES = run.TRAIN_BATCHES * run.EPOCHS


@pytest.fixture(scope="module")
def ddp_ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Snapshots of both ranks of a 2-process run with per-rank batch B."""
    out = tmp_path_factory.mktemp("ddp")
    return run_ranks([str(HERE / "_monitor_run.py"), "--world", "2", "--out", str(out)], out)


@pytest.fixture(scope="module")
def single() -> dict[str, Any]:
    """Snapshot of one process with batch 2B on the same global batches."""
    monitor = run.make_monitor()
    run.fit(1, monitor)
    return run.snapshot(monitor)


def _flat_state(snapshot: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Every tensor of the monitor's checkpoint state: critic weights, EMA, Adam moments and steps."""
    flat: dict[str, torch.Tensor] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            flat[prefix] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}", v)

    walk("", snapshot["state"]["estimators"])
    return flat


def test_ddp_ranks_hold_one_identical_estimator(ddp_ranks: list[dict[str, Any]]) -> None:
    rank0, rank1 = ddp_ranks
    assert len(rank0["history"]["xy"]) == UPDATES
    assert rank0["history"] == rank1["history"]
    assert rank0["heldout"] == rank1["heldout"]
    state0, state1 = _flat_state(rank0), _flat_state(rank1)
    assert state0.keys() == state1.keys() and any("exp_avg" in k for k in state0)
    for key in state0:
        assert torch.equal(state0[key], state1[key]), key


def test_two_processes_match_one_process_with_twice_the_batch(
    ddp_ranks: list[dict[str, Any]], single: dict[str, Any]
) -> None:
    ddp = ddp_ranks[0]
    for name in ("xy", "xp"):  # xy: given critic; xp: built from the first batch, measures the model
        torch.testing.assert_close(ddp["history"][name], single["history"][name], rtol=0, atol=1e-5)
        torch.testing.assert_close(ddp["heldout"][name], single["heldout"][name], rtol=0, atol=1e-5)
        assert len(ddp["heldout"][name]) == run.EPOCHS
    ddp_state, single_state = _flat_state(ddp), _flat_state(single)
    assert ddp_state.keys() == single_state.keys()
    for key in ddp_state:
        torch.testing.assert_close(ddp_state[key], single_state[key], rtol=0, atol=1e-5, msg=key)
    log_ema = single["state"]["estimators"]["xy"]["estimator"]["log_ema"]
    assert torch.isfinite(log_ema)


class _Crash(pl.Callback):
    """Simulates a killed job partway into the second epoch."""

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == run.TRAIN_BATCHES + 1:
            raise RuntimeError("simulated crash")


class _EmaAtStart(pl.Callback):
    def __init__(self, monitor: MutualInformationMonitor) -> None:
        self.monitor, self.log_ema = monitor, None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.log_ema = self.monitor.shared_estimator("xy").log_ema.clone()


def test_resume_after_crash_continues_the_uninterrupted_trajectory(single: dict[str, Any], tmp_path: Path) -> None:
    crashed = run.make_monitor()
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run.fit(1, crashed, callbacks=[checkpoint, _Crash()], default_root_dir=str(tmp_path))
    saved = torch.load(tmp_path / "last.ckpt", weights_only=False)
    saved_ema = next(v for k, v in saved["callbacks"].items() if "MutualInformationMonitor" in k)
    saved_ema = saved_ema["estimators"]["xy"]["estimator"]["log_ema"]
    assert torch.isfinite(saved_ema)

    resumed = run.make_monitor()  # fresh critics, fresh EMA (-inf) until the checkpoint is loaded
    probe = _EmaAtStart(resumed)
    run.fit(1, resumed, callbacks=[probe], ckpt_path=str(tmp_path / "last.ckpt"), default_root_dir=str(tmp_path))
    assert torch.equal(probe.log_ema, saved_ema)  # restored, not reset
    for name in ("xy", "xp"):
        after = single["history"][name][run.TRAIN_BATCHES :]
        assert resumed.history[name] == pytest.approx(after, abs=1e-6)
        assert resumed.heldout_history[name] == pytest.approx(single["heldout"][name][1:], abs=1e-6)


def test_model_training_is_untouched_by_the_monitor() -> None:
    _, without = run.fit(1, None, epochs=1)
    _, with_monitor = run.fit(1, run.make_monitor(), epochs=1)
    for p, q in zip(without.parameters(), with_monitor.parameters(), strict=True):
        assert torch.equal(p, q)


def test_getter_by_import_path_and_shared_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    monitor = MutualInformationMonitor(
        {"batch": "_monitor_run.batch_pair"}, hidden_dims=(8,), every_n_steps=1, heldout=False
    )
    assert isinstance(monitor, SharedEstimatorProvider)
    with pytest.raises(RuntimeError, match="give MutualInformationMonitor a `critic`"):
        monitor.shared_estimator("batch")
    run.fit(1, monitor, epochs=1)
    estimator = find_shared_estimator([pl.Callback(), monitor], "batch")
    assert isinstance(estimator, MINE) and estimator.critic.x_dim == 2
    assert len(monitor.history["batch"]) == run.TRAIN_BATCHES
    assert monitor.shared_estimator("other") is None
    with pytest.raises(ValueError, match="no callback shares"):
        find_shared_estimator([monitor], "other")


def test_given_critic_is_shared_before_training() -> None:
    critic = ConcatCritic(2, 2, hidden_dims=(8,))
    monitor = MutualInformationMonitor(["a", "b"], critic=critic)
    assert find_shared_estimator([monitor], "a").critic is critic
    assert find_shared_estimator([monitor], "b").critic is not critic  # one copy per pair


def test_every_n_steps_and_missing_pair_error() -> None:
    monitor = run.make_monitor(every_n_steps=3, heldout=False)
    run.fit(1, monitor, epochs=1)
    assert len(monitor.history["xy"]) == len(range(0, run.TRAIN_BATCHES, 3))
    with pytest.raises(ValueError, match="did not return the pair 'missing'"):
        run.fit(1, MutualInformationMonitor(["missing"]), epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pairs": []}, "at least one pair"),
        ({"pairs": ["a", "a"]}, "unique"),
        ({"pairs": ["a/b"]}, "without '/'"),
        ({"pairs": {"a": "no_such_module.getter"}}, "cannot import the getter"),
        ({"pairs": {"a": 3}}, "must be a callable"),
        ({"pairs": ["a"], "bound": "kl"}, "`bound`"),
        ({"pairs": ["a"], "every_n_steps": 0}, "`every_n_steps`"),
        ({"pairs": ["a"], "lr_mi": 0.0}, "`lr_mi`"),
        ({"pairs": ["a"], "lr": 1e-3}, "'lr'"),  # the old name of `lr_mi`
        ({"pairs": ["a"], "ema_decay": 1.0}, "`ema_decay`"),
        ({"pairs": ["a"], "critic": {"b": ConcatCritic(1, 1)}}, "not pairs"),
        ({"pairs": ["a"], "critic": "mlp"}, "`critic`"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        MutualInformationMonitor(**kwargs)
