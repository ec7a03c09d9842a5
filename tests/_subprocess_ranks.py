"""Run a script that starts 2 DDP processes itself, and load what each rank saved.

Lightning's DDP launcher re-executes the running script for the other ranks, so DDP runs cannot start
from inside pytest: each lives in a script of its own, run here as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch


def run_ranks(args: list[str], out: Path, world: int = 2, timeout: float = 240) -> list[Any]:
    """Run ``python *args`` single-threaded; return ``torch.load(out / f"rank{r}.pt")`` for every rank."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt") for r in range(world)]
