"""How far ``estimate_mi`` drifts when the data go through invertible maps that mix coordinates.

``I(f(X); g(Z)) = I(X; Z)`` for bijections ``f`` and ``g``, so each estimate on transformed data should
match the estimate on the untransformed data and the closed form. Cases: ``d`` pairs of standard normals
with correlation ``ρ`` per pair, ``ρ`` chosen so that ``I = -d/2 log(1 - ρ²)`` is the requested number of
nats; ``x`` and ``z`` then go through independent maps of :mod:`mine_gan.data.invertible_maps`:
``rotation`` (Haar-random, linear), ``spiral`` (a rotation whose angle grows with the radius),
``coupling`` (three affine couplings with fixed random weights, each followed by a rotation), beside
``identity``. Every bound ``estimate_mi`` offers runs on the same draws (estimator seed = data seed).

Columns: the estimate, its error against the closed form, and its shift against the same bound on the
untransformed data (the drift the maps cause). The machine may be shared: each row records the 1-minute
load average at its end, and CPU time beside wall time.

    python benchmarks/estimate_mi_invariance.py [--cases 2:1 5:5 25:2.5] [--maps identity rotation spiral coupling]
        [--bounds mine nwj infonce smile js] [--samples 10000] [--seed 1000] [--threads 1]

The table goes to stdout and to ``benchmarks/results/estimate_mi_invariance.txt``, with
``estimate_mi_invariance_meta.json`` recording the commit, command and wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from mine_gan import estimate_mi
from mine_gan.data.correlated_gaussians import correlated_gaussians, gaussian_mi
from mine_gan.data.invertible_maps import MIXING_MAPS, mixing_map

RESULTS = Path(__file__).parent / "results"
MAPS = ("identity", *MIXING_MAPS)
BOUNDS = ("mine", "nwj", "infonce", "smile", "js")


def rho_for(dim: int, nats: float) -> float:
    """The per-pair correlation that gives ``d`` pairs ``nats`` of MI in total."""
    return math.sqrt(-math.expm1(-2 * nats / dim))


def transformed(name: str, x: torch.Tensor, z: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(x), g(z))`` with independent maps ``f`` and ``g`` of kind ``name`` (``"identity"``: unchanged)."""
    if name == "identity":
        return x, z
    f = mixing_map(name, x.shape[1], torch.Generator().manual_seed(seed + 1))
    g = mixing_map(name, z.shape[1], torch.Generator().manual_seed(seed + 2))
    return f(x), g(z)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["2:1", "5:5", "25:2.5"], help="dim:nats")
    parser.add_argument("--maps", nargs="+", default=list(MAPS), choices=MAPS)
    parser.add_argument("--bounds", nargs="+", default=list(BOUNDS))
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if "identity" not in args.maps:
        parser.error("--maps must include identity (the untransformed reference)")
    torch.set_num_threads(args.threads)
    cases = [(int(d), float(nats)) for d, nats in (case.split(":") for case in args.cases)]
    began = time.perf_counter()
    lines = [
        f"{platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{args.samples:,} pairs, data seed = estimator seed = {args.seed}; ρ per coordinate pair set so that "
        "I = -d/2 log(1 - ρ²) is the requested MI; x and z through independent maps; "
        "shift = estimate minus the same bound's estimate on the untransformed data; "
        "cpu = process CPU time, load = 1-minute load average at the end of the call (2 cores)",
        "",
        "| bound | d | true MI | map | estimate | error | shift | stderr | wall s | cpu s | steps (stop) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "estimate_mi_invariance.txt"
    rows = []
    # One short call first: the first call in a process pays one-off costs (lazy imports, kernel setup).
    estimate_mi(*correlated_gaussians(2000, 2, 0.5, torch.Generator().manual_seed(0)), steps=20, seed=0)
    # The default bound first, over every case and map, so that a cut-short run still has its table.
    for bound in args.bounds:
        for dim, nats in cases:
            rho = rho_for(dim, nats)
            truth = gaussian_mi(dim, rho)
            x, z = correlated_gaussians(args.samples, dim, rho, torch.Generator().manual_seed(args.seed))
            reference = math.nan
            for name in args.maps:
                fx, gz = transformed(name, x, z, args.seed)
                start, cpu = time.perf_counter(), time.process_time()
                result = estimate_mi(fx, gz, bound=bound, seed=args.seed)
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                if name == "identity":
                    reference = result.value
                row = dict(
                    bound=bound,
                    dim=dim,
                    truth=truth,
                    map=name,
                    value=result.value,
                    error=result.value - truth,
                    shift=result.value - reference,
                    stderr=result.stderr,
                    wall=wall,
                    cpu=cpu,
                    steps=result.steps_taken,
                    stop=result.stop_reason,
                    load=os.getloadavg()[0],
                )
                rows.append(row)
                lines.append(
                    f"| {bound} | {dim} | {truth:.3f} | {name} | {row['value']:.3f} | {row['error']:+.3f} | "
                    f"{row['shift']:+.3f} | {row['stderr']:.3f} | {wall:.1f} | {cpu:.1f} | "
                    f"{row['steps']} ({row['stop']}) | {row['load']:.1f} |"
                )
                print(lines[-1], flush=True)
                out.write_text("\n".join([*lines, "", "(incomplete: still running)"]) + "\n")
    lines += ["", "Worst case per bound over the mapped rows (largest |shift| and largest |error|):", ""]
    for bound in args.bounds:
        mapped = [r for r in rows if r["bound"] == bound and r["map"] != "identity"]
        if not mapped:
            continue
        shift = max(mapped, key=lambda r: abs(r["shift"]))
        error = max(mapped, key=lambda r: abs(r["error"]))
        lines.append(
            f"- {bound}: shift {shift['shift']:+.3f} nats ({shift['map']}, d = {shift['dim']}, "
            f"{shift['truth']:.2f} nats); error {error['error']:+.3f} ({error['map']}, d = {error['dim']}, "
            f"{error['truth']:.2f} nats)"
        )
    wall = time.perf_counter() - began
    lines += ["", f"total wall time {wall / 60:.1f} min"]
    print("\n".join(lines[-(len(args.bounds) + 4) :]), flush=True)
    out.write_text("\n".join(lines) + "\n")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    meta = dict(
        commit=commit,
        command=" ".join([Path(sys.executable).name, *sys.argv]),
        cases=args.cases,
        maps=args.maps,
        bounds=args.bounds,
        samples=args.samples,
        seed=args.seed,
        threads=torch.get_num_threads(),
        wall_seconds=round(wall, 1),
        torch=torch.__version__,
        machine=platform.machine(),
    )
    (RESULTS / "estimate_mi_invariance_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
