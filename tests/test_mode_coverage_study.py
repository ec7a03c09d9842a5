"""The 2-D study's variants and report (benchmarks/mode_coverage.py): which runs it defines, and its tables."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("mode_coverage_study", ROOT / "benchmarks" / "mode_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_equal_wall_time_run_trains_the_measured_factor_more_iterations(study):
    wall = {"grid/GAN+MINE (code)": 4414.0, "grid/MI-free (gan.yaml)": 3332.0}
    factor = study.equal_wall_factor(wall, "ring")  # the ring has no wall times yet: the grid's ratio
    assert factor == pytest.approx(4414 / 3332)
    _, plain, per_epoch, _ = study.job("grid", "MI-free (gan.yaml)", 30_000, factor)
    _, matched, _, _ = study.job("grid", study.EQUAL_WALL, 30_000, factor)
    epochs = int(matched[-1].split("=")[1])
    assert plain == [f"--trainer.max_epochs={-(-30_000 // per_epoch)}"]
    assert epochs == -(-round(30_000 * 4414 / 3332) // per_epoch)  # 39,741 iterations in whole epochs
    assert study.job("grid", study.EQUAL_WALL, 30_000, None) is None


def test_tuned_variant_takes_the_tuning_winner_without_its_length(study, tmp_path, monkeypatch):
    monkeypatch.setattr(study, "TUNING", tmp_path / "tune.json")
    assert study.job("grid", study.TUNED, 30_000, None) is None  # no tuning yet
    winner = "--model.init_args.lr_g=0.001 --model.init_args.d_steps=2 --trainer.max_epochs=200"
    tuning = {"winners": {"MI-free": {"overrides": winner}}, "complete_families": []}
    (tmp_path / "tune.json").write_text(json.dumps(tuning))
    assert study.job("grid", study.TUNED, 30_000, None) is None  # the best so far of an unfinished search
    (tmp_path / "tune.json").write_text(json.dumps(tuning | {"complete_families": ["MI-free"]}))
    config, overrides, per_epoch, _ = study.job("grid", study.TUNED, 30_000, None)
    assert config.name == "gan.yaml"
    assert overrides[:2] == ["--model.init_args.lr_g=0.001", "--model.init_args.d_steps=2"]
    # Two discriminator steps per generator step halve the generator iterations of an epoch.
    assert per_epoch == study.iterations_per_epoch(config) // 2
    assert overrides[2] == f"--trainer.max_epochs={-(-30_000 // per_epoch)}"


def test_report_pairs_every_mi_variant_with_every_mi_free_one_and_keeps_old_names(study, tmp_path, monkeypatch):
    stem = tmp_path / "mode_coverage"
    base = {"dataset": "grid", "num_modes": 25, "kl": 0.01, "iterations": 30000, "hq_pct_5k": 50.0,
            "hq_pct_10k": 70.0, "hq_pct_30k": 90.0, "config": "x"}  # fmt: skip
    rows = []
    for seed in range(3):
        rows.append({**base, "variant": "GAN+MINE (code)", "seed": seed, "modes": 25, "high_quality_pct": 95.0 + seed,
                     "iters_all_modes": 16000 + 100 * seed, "iters_hq90": 20000.0})  # fmt: skip
        rows.append({**base, "variant": "best MI-free", "seed": seed, "modes": 25, "high_quality_pct": 91.0 + 2 * seed,
                     "iters_all_modes": 10000.0, "iters_hq90": 23000 - 1000 * seed})  # fmt: skip
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    meta = {"job_wall_seconds": {"grid/GAN+MINE (code)": 4414, "grid/best MI-free": 3332}, "jobs": {}}
    Path(f"{stem}_meta.json").write_text(json.dumps(meta))
    monkeypatch.setattr(sys, "argv", ["mode_coverage.py", "--report", "--seeds", "0", "1", "2", "--datasets", "grid",
                                      "--out", str(stem)])  # fmt: skip
    study.main()
    text = stem.with_suffix(".txt").read_text()
    # Δ HQ: (95, 96, 97) − (91, 93, 95) = 4, 3, 2; Δ iters until every mode stays: 6000, 6100, 6200.
    assert "| GAN+MINE (code) − MI-free (gan.yaml) | +0.00 [+0.00, +0.00] | +3.0 [+0.5, +5.5] |" in text
    assert "| +6100 [+5852, +6348] |" in text
    assert "PARTIAL" in text  # the tuned and equal-wall-time runs are still to train
    with open(stem.with_suffix(".csv")) as f:
        assert {r["variant"] for r in csv.DictReader(f)} == {"GAN+MINE (code)", "MI-free (gan.yaml)"}
    assert json.loads(Path(f"{stem}_meta.json").read_text())["equal_wall_factor"]["grid"] == pytest.approx(4414 / 3332)
