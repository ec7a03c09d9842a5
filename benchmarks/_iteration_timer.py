"""Timing of ``mine-gan fit`` iterations, importable by any version of the package (it imports none of it).

:class:`IterationTimer` is the callback a timed run loads; :func:`time_fit` runs ``python -m mine_gan fit`` of a
config in a subprocess, from the package at any source folder, and returns its seconds per iteration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytorch_lightning as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class IterationTime(NamedTuple):
    """Seconds per iteration: ``wall`` (what a user waits) and ``cpu`` (the process's CPU time, which a machine
    shared with other jobs inflates far less than the wall time)."""

    wall: float
    cpu: float


class IterationTimer(pl.Callback):
    """Prints wall and CPU ``{"seconds_per_batch", "cpu_seconds_per_batch"}`` over the batches after ``warmup``."""

    def __init__(self, warmup: int = 20) -> None:
        self.warmup = warmup
        self._batches = 0
        self._start: float | None = None
        self._start_cpu = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if self._batches == self.warmup:
            self._start, self._start_cpu = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self._batches += 1

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001
        timed = self._batches - self.warmup
        if self._start is None or timed <= 0:
            wall = cpu = float("nan")
        else:
            wall, cpu = (time.perf_counter() - self._start) / timed, (time.process_time() - self._start_cpu) / timed
        print(json.dumps({"seconds_per_batch": wall, "cpu_seconds_per_batch": cpu, "batches": timed}), flush=True)


def time_fit(
    config: Path, source: Path, *, threads: int, batches: int, warmup: int, extra: Sequence[str] = ()
) -> IterationTime:
    """Wall and CPU seconds per training iteration of ``mine-gan fit --config <config>`` with the package at ``source``.

    The run is the config as users run it, less validation, pictures, checkpoints and logging (``extra`` adds
    overrides, e.g. ``--seeds``); the first ``warmup`` of ``batches`` iterations are not timed.
    """
    args = [
        sys.executable, "-m", "mine_gan", "fit", "--config", str(config), f"--torch_threads={threads}",
        "--trainer.max_epochs=1", f"--trainer.limit_train_batches={batches}", "--trainer.limit_val_batches=0",
        f"--trainer.callbacks=[{{class_path: _iteration_timer.IterationTimer, init_args: {{warmup: {warmup}}}}}]",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.enable_checkpointing=false", "--trainer.logger=false", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(HERE)])}
    with tempfile.TemporaryDirectory() as work:
        out = subprocess.run(args + [f"--trainer.default_root_dir={work}"], capture_output=True, text=True, env=env,
                             cwd=work, check=False)  # fmt: skip
    for line in out.stdout.splitlines():
        if line.startswith('{"seconds_per_batch"'):
            timed = json.loads(line)
            return IterationTime(float(timed["seconds_per_batch"]), float(timed["cpu_seconds_per_batch"]))
    raise RuntimeError(f"run failed ({config.name} {' '.join(extra)}):\n{out.stderr[-2000:]}")


@contextmanager
def checkout(ref: str | None) -> Iterator[Path | None]:
    """The repository at commit ``ref`` as a temporary ``git worktree`` (removed afterwards); ``None`` for no ref."""
    if ref is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp()) / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)


def timing_meta(started: float, loads: Sequence[float]) -> dict:
    """What a timing table's meta file records: commit, command, uncommitted package files, wall time and load."""
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=ROOT).stdout  # noqa: E731
    return {
        "commit": git("rev-parse", "HEAD").strip(),
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "uncommitted": git("status", "--porcelain", "mine_gan").splitlines(),
        "wall_seconds": round(time.time() - started, 1),
        "load_average": [round(x, 2) for x in loads],
        "cpus": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
