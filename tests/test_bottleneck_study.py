"""experiments/bottleneck: the real module trained by the study's own job runner; rows survive a resume."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
sys.path.insert(0, str(ROOT / "experiments" / "bottleneck"))
import run  # noqa: E402
import tune  # noqa: E402
from best_epoch import BestOnValidation, best_epoch  # noqa: E402


@pytest.fixture(autouse=True)
def _this_study_first_on_the_path(monkeypatch):
    # The study's job runner spawns workers that import `run` by name along the parent's sys.path; other studies'
    # tests put their own run.py (stacked_digits, bigan_digits) on the path too, so this one must come first.
    monkeypatch.syspath_prepend(str(ROOT / "experiments" / "bottleneck"))


def _tiny_config() -> dict:
    """configs/mnist5k.yaml, narrowed and cut to two batches so the test trains the real module in seconds."""
    config = yaml.safe_load((ROOT / "experiments" / "bottleneck" / "configs" / "mnist5k.yaml").read_text())
    config["trainer"].update(max_epochs=1, limit_train_batches=2, limit_val_batches=1, limit_test_batches=1)
    model = config["model"]["init_args"]
    model.update(hidden_dims=[16], z_dim=4, critic_hidden_dims=[8], mi_check_steps=5)
    return config


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_rows_are_written_as_they_finish_and_resume_keeps_them(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "ESTIMATE_STEPS", 5)
    config, path = _tiny_config(), tmp_path / "rows.csv"
    vib = {"mi": "vib", "mi_weight": 1e-2, "lr": 1e-3}
    first = run.run_rows(config, [("deep VIB", vib, 0)], path, workers=1, resume=False)
    assert [r["variant"] for r in _csv(path)] == ["deep VIB"]
    assert 0.0 <= first[0]["test_error"] <= 100.0 and first[0]["config"] == run.config_digest(config, vib)

    # Resume with one more job: the finished row is read back, not retrained (same fit time to the digit).
    mine = {"mi": "mine", "mi_weight": 1e-2, "lr": 1e-3}
    both = run.run_rows(config, [("deep VIB", vib, 0), ("MINE-IB", mine, 0)], path, workers=1, resume=True)
    assert [r["variant"] for r in both] == ["deep VIB", "MINE-IB"]
    assert both[0]["fit_seconds"] == pytest.approx(first[0]["fit_seconds"])
    assert len(_csv(path)) == 2

    # A changed configuration is not the same row: it is trained again and replaces the old one. The rows of
    # jobs not asked for this time (MINE-IB) stay in the file.
    changed = {**vib, "mi_weight": 1e-1}
    again = run.run_rows(config, [("deep VIB", changed, 0)], path, workers=1, resume=True)
    assert again[0]["config"] == run.config_digest(config, changed) != first[0]["config"]
    assert sorted((r["variant"], r["config"]) for r in _csv(path)) == [
        ("MINE-IB", both[1]["config"]),
        ("deep VIB", again[0]["config"]),
    ]


def test_untuned_scale_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "RESULTS", tmp_path)
    with pytest.raises(SystemExit, match="tune.py --scale mnist5k`; run it first"):
        run.variants_of("mnist5k")
    assert set(run.variants_of("mnist")) == {"deterministic", "dropout", "deep VIB", "MINE-IB"}


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ([7.0, 5.2, 5.0, 5.0, 6.1], 2),  # the earliest of equals
        ([4.0, 5.0, 6.0], 0),
        ([9.0, float("nan"), 8.0], 2),  # a diverged epoch never wins
        ([3.0], 0),
    ],
)
def test_best_epoch_of_a_hand_made_sequence(errors: list[float], expected: int) -> None:
    assert best_epoch(errors) == expected


def test_best_epoch_refuses_nothing_to_choose() -> None:
    with pytest.raises(ValueError, match="no validation epoch ran"):
        best_epoch([])
    with pytest.raises(ValueError, match="every validation error is NaN"):
        best_epoch([float("nan")])


class _Scripted(pl.LightningModule):
    """Its weight is the epoch number; ``val/acc`` follows a script, so the best epoch is known beforehand."""

    def __init__(self, accuracies: list[float]) -> None:
        super().__init__()
        self.accuracies = accuracies
        self.weight = torch.nn.Parameter(torch.zeros(()))

    def training_step(self, batch, batch_idx):
        with torch.no_grad():
            self.weight.fill_(self.current_epoch + 1)
        return (self.weight * 0.0).sum() + self.weight.sum() * 0.0

    def validation_step(self, batch, batch_idx):
        self.log("val/acc", self.accuracies[self.current_epoch])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(2, 1), batch_size=1)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(1, 1), batch_size=1)


def test_best_on_validation_restores_the_best_epochs_weights() -> None:
    accuracies = [0.90, 0.95, 0.93, 0.95]
    model, best = _Scripted(accuracies), BestOnValidation()
    trainer = pl.Trainer(
        max_epochs=4, callbacks=[best], logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(model)
    assert best.val_errors == pytest.approx([10.0, 5.0, 7.0, 5.0], abs=1e-4)
    assert best.best == 1 and best.best_val_error == pytest.approx(5.0, abs=1e-4)
    assert float(model.weight) == 2.0  # the weights after epoch 2, not the last epoch's 4


def test_tuning_gives_both_regularizers_the_same_number_of_valid_candidates() -> None:
    grid = tune.spaces(6)
    assert len(grid["deep VIB"]) == len(grid["MINE-IB"]) == 6
    assert tune.spaces(8)["MINE-IB"][:6] == grid["MINE-IB"]  # a fixed stream: more draws keep the earlier ones
    critic_keys = {"mi_steps", "lr_mi", "critic_hidden_dims", "mi_shuffles"}
    assert all(critic_keys <= set(c) for c in grid["MINE-IB"])
    labels = [tune.label(m, c) for m, cands in grid.items() for c in cands]
    assert len(set(labels)) == len(labels)
    init = _tiny_config()["model"]["init_args"]
    for candidates in grid.values():
        for candidate in candidates:  # every candidate is a valid InformationBottleneck
            run.instantiate({"class_path": "mine_gan.models.InformationBottleneck", "init_args": {**init, **candidate}})


def test_paired_tables_give_validation_beside_test() -> None:
    rows = [
        {"variant": v, "seed": s, "test_error": t + s, "val_error": e + s, "mi_test": 1.0 + s}
        for s in range(3)
        for v, t, e in (("deterministic", 5.0, 6.0), ("MINE-IB", 4.0, 6.5))
    ]
    rows[-1]["test_error"] += 0.1  # not a constant difference: a finite interval
    text = run.paired_table(rows, ["deterministic", "MINE-IB"], "deterministic")
    header, _, line = text.splitlines()
    assert "Δ val error" in header and "Δ test error" in header
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[0] == "MINE-IB" and cells[1].startswith("-0.97 [") and cells[2] == "+0.50 [+0.50, +0.50]"
    assert cells[4:] == ["3/3", "0/3"]


@pytest.mark.slow
def test_study_rows_carry_the_best_epoch_and_the_health_figure(tmp_path) -> None:
    config = _tiny_config()
    config["trainer"].update(max_epochs=3, limit_val_batches=1)
    config["data"]["init_args"]["batch_size"] = 50
    mine = {"mi": "mine", "mi_weight": 1e-2, "lr": 1e-3, "lr_mi": 1e-3, "mi_steps": 2, "mi_shuffles": 2}
    (row,) = run.run_rows(config, [("MINE-IB", mine, 0)], tmp_path / "rows.csv", workers=1, resume=False)
    (written,) = _csv(tmp_path / "rows.csv")
    assert list(written)[:3] == ["variant", "seed", "test_error"]
    assert {"val_error", "best_epoch", "val_error_last", "mi_gap", "val_mi_gap"} <= set(written)
    assert 1 <= row["best_epoch"] <= 3 and row["val_error"] <= row["val_error_last"]
    assert row["mi_gap"] == pytest.approx(row["mi_own_critic"] - row["mi_test"])
    assert math.isfinite(row["val_mi_gap"])
