"""Accuracy of the library's default ``estimate_mi`` on the MINE paper's Gaussian sweep (Fig. 1 setting).

Target: every point whose true MI is <= 5 nats within max(0.1 nats, 10 %) of the truth, seeds averaged
(d = 2 over the whole sweep, d = 20 up to |ρ| ≈ 0.57). Points above 5 nats are printed with their errors;
``experiments/gaussian_mi`` compares all bounds there. Also times one default call on a 10 000-sample,
5-dimensional problem.

    python benchmarks/estimator_accuracy.py [--seeds 0 1 2] [--samples 20000]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from mine_gan import estimate_mi
from mine_gan.data.correlated_gaussians import correlated_gaussians, gaussian_mi

RHOS = {2: [-0.99, -0.9, -0.75, -0.57, -0.3, 0.0, 0.3, 0.57, 0.75, 0.9, 0.99],
        20: [-0.75, -0.57, -0.3, 0.0, 0.3, 0.57, 0.75]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 20])
    args = parser.parse_args()
    print(f"{platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"estimate_mi defaults; {args.samples} samples; seeds {args.seeds}\n")

    x, z = correlated_gaussians(10_000, 5, 0.5, torch.Generator().manual_seed(0))
    start = time.perf_counter()
    estimate_mi(x, z, seed=0)
    print(f"wall time of one default estimate_mi call, 10 000 samples, d = 5: {time.perf_counter() - start:.1f} s\n")

    print("| d | ρ | true | mean estimate | std over seeds | error | tolerance | within |")
    print("|---|---|---|---|---|---|---|---|")
    failures, checked = 0, 0
    for dim in args.dims:
        for rho in RHOS.get(dim, RHOS[2]):
            truth = gaussian_mi(dim, rho)
            values = []
            for seed in args.seeds:
                x, z = correlated_gaussians(args.samples, dim, rho, torch.Generator().manual_seed(seed))
                values.append(estimate_mi(x, z, seed=seed).value)
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
            print(f"| {dim} | {rho:+.2f} | {truth:.3f} | {mean:.3f} | {spread:.3f} | {mean - truth:+.3f} | "
                  f"{tolerance:.3f} | {verdict} |", flush=True)
    print(f"\n{checked - failures}/{checked} points with true MI <= 5 nats within tolerance")


if __name__ == "__main__":
    main()
