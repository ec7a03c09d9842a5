"""Every experiment family through ``mine-gan fit`` on 2 DDP processes (gloo, CPU), as README runs it.

Each run is a subprocess (Lightning's DDP launcher re-executes the command for rank 1). A short budget;
the run must exit 0 and write its metrics, pictures and checkpoint once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {
    "gaussians25": "experiments/gaussians25/gan_mine.yaml",
    "ring8": "experiments/ring8/gan_q.yaml",
    "stacked_digits": "experiments/stacked_digits/gan_mine.yaml",
    "bigan_digits": "experiments/bigan_digits/bigan_mine.yaml",
    "bottleneck": "experiments/bottleneck/configs/mnist5k.yaml",
}
SHORT = [
    "--trainer.devices=2",
    "--trainer.strategy=ddp",
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=1",
    "--trainer.log_every_n_steps=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.logger=CSVLogger",
    "--trainer.logger.init_args.save_dir=runs",
]


def _fit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mine_gan", "fit", *args, *SHORT]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_experiment_config_runs_under_ddp(tmp_path, family):
    proc = _fit(tmp_path, "--config", str(ROOT / FAMILIES[family]))
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = list(tmp_path.rglob("metrics.csv"))
    checkpoints = list(tmp_path.rglob("*.ckpt"))
    assert len(metrics) == 1 and metrics[0].read_text().count("\n") > 1  # written once, by rank 0
    assert checkpoints and len({c.parent for c in checkpoints}) == 1
    assert proc.stdout.count("mine-gan fit: results in") == 1
    if family != "bottleneck":  # the GANs picture their samples (and mixtures their mode histogram)
        pictures = list(tmp_path.rglob("*.png"))
        assert pictures and len({p.name for p in pictures}) == len(pictures)


def test_readme_multi_process_default_run(tmp_path):
    """README's multi-GPU command, on CPU: the default run (mode histogram included) on 2 processes."""
    proc = _fit(tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    histogram = list(tmp_path.rglob("final_mode_histogram*.csv"))
    assert len(histogram) == 1
