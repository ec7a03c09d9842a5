"""The 2-D study's per-seed figures (experiments/harness.py), from metrics rows whose answer is known."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from harness import iterations_per_epoch, mode_coverage_row  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _rows() -> list[dict[str, float]]:
    # Validation after each epoch of 5,000 iterations: modes 25, 24, 25, 25, 25, 25; HQ rising past 90 % at 20k.
    modes = [25, 24, 25, 25, 25, 25]
    hq = [0.5, 0.7, 0.85, 0.93, 0.95, 0.97]
    rows = [{"epoch": e, "step": 100 * e, "val/modes": m, "val/high_quality": q, "val/kl": 0.1 / (e + 1)}
            for e, (m, q) in enumerate(zip(modes, hq, strict=True))]  # fmt: skip
    rows.append({"epoch": 5, "step": 600, "final/modes": 25, "final/high_quality": 0.96, "final/kl": 0.01})
    return rows


def test_mode_coverage_row_reads_final_figures_and_curve():
    row = mode_coverage_row(_rows(), per_epoch=5_000, num_modes=25)
    assert row["modes"] == 25 and row["num_modes"] == 25 and row["iterations"] == 30_000
    assert row["high_quality_pct"] == pytest.approx(96.0) and row["kl"] == pytest.approx(0.01)
    assert row["hq_pct_5k"] == pytest.approx(50.0) and row["hq_pct_10k"] == pytest.approx(70.0)
    assert row["hq_pct_30k"] == pytest.approx(97.0) and row["modes_10k"] == 24
    assert row["iters_all_modes"] == 15_000  # every check from 15k on has all 25; the 10k check lost one
    assert row["iters_hq90"] == 20_000


def test_mode_coverage_row_without_all_modes_at_the_end():
    rows = _rows()
    rows[5]["val/modes"] = 24
    row = mode_coverage_row(rows, per_epoch=5_000, num_modes=25)
    assert math.isnan(row["iters_all_modes"])


@pytest.mark.parametrize(("config", "expected"), [("gaussians25/gan_mine.yaml", 300), ("ring8/gan.yaml", 300)])
def test_iterations_per_epoch_of_the_yaml(config, expected):
    assert iterations_per_epoch(ROOT / "experiments" / config) == expected
