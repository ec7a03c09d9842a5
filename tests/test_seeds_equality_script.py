"""``benchmarks/seeds_equality.py`` fails (exit status 1) when a seed of ``--seeds`` is not its single run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "seeds_equality.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("seeds_equality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_misses_are_the_rows_above_the_tolerance_or_nan(script):
    rows = [
        ("a.yaml", 0, "train/mi", 1e-6),
        ("a.yaml", 1, "train/mi", 2e-6),
        ("a.yaml", 1, "train/g_loss", float("nan")),
    ]
    assert script.misses(rows) == ["a.yaml seed 1 train/mi: 2.0e-06", "a.yaml seed 1 train/g_loss: nan"]


def test_relative_difference_is_nan_when_no_step_was_logged(script):
    single = {("train/mi", 10): 2.0, ("train/mi", 20): -4.0}
    batched = {("train/mi", 10): 2.0 + 2e-6, ("train/mi", 20): -4.0}
    assert script.relative_difference(batched, single, "train/mi") == pytest.approx(1e-6)
    assert script.relative_difference(batched, single, "train/d_loss") != script.relative_difference(
        batched, single, "train/d_loss"
    )  # NaN


@pytest.mark.parametrize(("offset", "status"), [(0.0, 0), (1e-3, 1)])
def test_exit_status_follows_the_comparison(script, offset, status, monkeypatch, tmp_path):
    """The script's own main with the runs replaced by logged values: a difference above 1e-6 exits 1."""
    monkeypatch.setattr(script, "fit", lambda config, seed_args, run_dir, batches: None)
    values = {column: 1.0 for column in script.COLUMNS}

    def logged(path: Path) -> dict[tuple[str, int], float]:
        shift = offset if "batched" in str(path) else 0.0
        return {(column, 10): value + shift for column, value in values.items()}

    monkeypatch.setattr(script, "logged", logged)
    assert script.main(["--configs", "experiments/gaussians25/gan_mine.yaml", "--results", str(tmp_path)]) == status
    assert ("MISSED" in (tmp_path / "seeds_equality.txt").read_text()) == bool(status)


@pytest.mark.slow
def test_the_script_passes_on_a_short_run(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--configs", "experiments/gaussians25/gan_mine.yaml", "--batches", "20",
         "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert ": met." in (tmp_path / "seeds_equality.txt").read_text()
