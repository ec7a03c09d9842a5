"""Accuracy of the library's default ``estimate_mi`` on the MINE paper's Gaussian sweep (Fig. 1 setting).

Target: every point whose true MI is <= 5 nats within max(0.1 nats, 10 %) of the truth, seeds averaged
(d = 2 over the whole sweep, d = 20 up to |ρ| ≈ 0.57). Points above 5 nats are printed with their errors;
``experiments/gaussian_mi`` compares all bounds there. Also times one default call on a 10 000-sample,
5-dimensional problem.

    python benchmarks/estimator_accuracy.py [--seeds 0 1 2] [--samples 20000]

The table also goes to ``benchmarks/results/estimator_accuracy.txt`` with ``estimator_accuracy_meta.json``
(commit, command, seeds, wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from mine_gan import estimate_mi
from mine_gan.data.correlated_gaussians import correlated_gaussians, gaussian_mi

RHOS = {
    2: [-0.99, -0.9, -0.75, -0.57, -0.3, 0.0, 0.3, 0.57, 0.75, 0.9, 0.99],
    20: [-0.75, -0.57, -0.3, 0.0, 0.3, 0.57, 0.75],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 20])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "estimator_accuracy.txt"))
    args = parser.parse_args()
    began = time.perf_counter()
    lines: list[str] = []

    def emit(line: str = "") -> None:
        lines.append(line)
        print(line, flush=True)

    emit(
        f"{platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"estimate_mi defaults; {args.samples} samples; seeds {args.seeds}"
    )
    emit()

    x, z = correlated_gaussians(10_000, 5, 0.5, torch.Generator().manual_seed(0))
    start = time.perf_counter()
    result = estimate_mi(x, z, seed=0)
    emit(
        f"one default estimate_mi call, 10 000 samples, d = 5, ρ = 0.5 (truth {gaussian_mi(5, 0.5):.3f}): "
        f"{result.value:.3f} in {time.perf_counter() - start:.1f} s wall, {result.steps_taken} steps "
        f"({result.stop_reason})"
    )
    emit()

    emit("| d | ρ | true | mean estimate | std over seeds | error | tolerance | within | mean steps |")
    emit("|---|---|---|---|---|---|---|---|---|")
    failures, checked = 0, 0
    for dim in args.dims:
        for rho in RHOS.get(dim, RHOS[2]):
            truth = gaussian_mi(dim, rho)
            values, steps = [], []
            for seed in args.seeds:
                x, z = correlated_gaussians(args.samples, dim, rho, torch.Generator().manual_seed(seed))
                result = estimate_mi(x, z, seed=seed)
                values.append(result.value)
                steps.append(result.steps_taken)
            mean = statistics.fmean(values)
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            tolerance = max(0.1, 0.1 * truth)
            if truth <= 5.0:
                checked += 1
                ok = abs(mean - truth) <= tolerance
                failures += not ok
                verdict = "yes" if ok else "**no**"
            else:
                verdict = "(above 5 nats: not a target)"
            emit(
                f"| {dim} | {rho:+.2f} | {truth:.3f} | {mean:.3f} | {spread:.3f} | {mean - truth:+.3f} | "
                f"{tolerance:.3f} | {verdict} | {statistics.fmean(steps):.0f} |"
            )
    wall = time.perf_counter() - began
    emit()
    emit(
        f"{checked - failures}/{checked} points with true MI <= 5 nats within tolerance; "
        f"total wall time {wall / 60:.1f} min; load average at the end {os.getloadavg()[0]:.1f} (shared machine)"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    meta = dict(
        commit=commit,
        command=" ".join([Path(sys.executable).name, *sys.argv]),
        seeds=args.seeds,
        samples=args.samples,
        dims=args.dims,
        threads=torch.get_num_threads(),
        wall_seconds=round(wall, 1),
        torch=torch.__version__,
        machine=platform.machine(),
    )
    out.with_name(out.stem + "_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
