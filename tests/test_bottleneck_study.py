"""experiments/bottleneck: the real module trained by the study's own job runner; rows survive a resume."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
sys.path.insert(0, str(ROOT / "experiments" / "bottleneck"))
import run  # noqa: E402


def _tiny_config() -> dict:
    """configs/mnist5k.yaml, narrowed and cut to two batches so the test trains the real module in seconds."""
    config = yaml.safe_load((ROOT / "experiments" / "bottleneck" / "configs" / "mnist5k.yaml").read_text())
    config["trainer"].update(max_epochs=1, limit_train_batches=2, limit_val_batches=1, limit_test_batches=1)
    model = config["model"]["init_args"]
    model.update(hidden_dims=[16], z_dim=4)
    model["critic"]["init_args"].update(z_dim=4, hidden_dims=[8])
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
