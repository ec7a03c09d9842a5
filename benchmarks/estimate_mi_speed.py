"""Wall time, steps, error and peak memory of ``estimate_mi``: the new defaults against the previous ones.

Cases: ``d`` independent pairs of standard normals with correlation ``ρ`` per pair (MINE paper §4.1),
``I = -d/2 log(1 - ρ²)`` nats in closed form, for d ∈ {1, 5, 25} and N ∈ {10 000, 100 000, 1 000 000}.
Each case runs ``estimate_mi(x, z, seed=s)`` with today's defaults and with the arguments that reproduce
the defaults before issue 14 (``PREVIOUS`` below: 3 000 steps, ReLU critic, cosine lr, no weight
averaging, checkpoints every 150 steps, no plateau stop). Peak memory is the largest rise of the
process's resident set during the call, sampled every 5 ms (the samples themselves are allocated before).

Targets (issue 14): new defaults at N = 10 000 within 5 s wall on 2 threads for every d; at N = 100 000
within 3× the N = 10 000 time; N = 1 000 000 in bounded memory.

    python benchmarks/estimate_mi_speed.py [--quick] [--seeds 0] [--threads 2] [--rho 0.5]

``--quick`` runs N = 10 000 only. The table goes to stdout and to ``benchmarks/results/estimate_mi_speed.txt``
(``_quick.txt`` with ``--quick``), with a ``_meta.json`` recording the commit, command, seeds and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from mine_gan import ConcatCritic, estimate_mi
from mine_gan.data.correlated_gaussians import correlated_gaussians, gaussian_mi

RESULTS = Path(__file__).parent / "results"
DIMS = (1, 5, 25)
SIZES = (10_000, 100_000, 1_000_000)


def previous_defaults(dim: int) -> dict:
    """Arguments that reproduce ``estimate_mi``'s defaults before issue 14."""
    return dict(
        critic=ConcatCritic(dim, dim, hidden_dims=(256, 256), activation="relu"),
        steps=3000,
        batch_size=512,
        lr=1e-3,
        stop="max_steps",
        valid_every=None,  # 20 checks over the run
        average_decay=0.0,
        schedule="cosine",
    )


class PeakRSS:
    """Largest rise of this process's resident set size while the context is open (Linux /proc)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss() - self.base)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.base = self._rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss() - self.base)


def run_case(n: int, dim: int, rho: float, seed: int, previous: bool) -> dict:
    x, z = correlated_gaussians(n, dim, rho, torch.Generator().manual_seed(seed))
    kwargs = previous_defaults(dim) if previous else {}
    with PeakRSS() as memory:
        start, cpu = time.perf_counter(), time.process_time()
        result = estimate_mi(x, z, seed=seed, **kwargs)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return dict(
        wall=wall,
        cpu=cpu,
        steps=result.steps_taken,
        stop=result.stop_reason,
        error=result.value - gaussian_mi(dim, rho),
        peak_mb=memory.peak / 2**20,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 10 000 only")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rho", type=float, default=0.5)
    parser.add_argument("--dims", type=int, nargs="+", default=list(DIMS))
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = args.sizes or ([SIZES[0]] if args.quick else list(SIZES))
    began = time.perf_counter()
    lines = [
        f"{platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"ρ = {args.rho} per coordinate pair, I = -d/2 log(1 - ρ²); seeds {args.seeds}; "
        "cpu = process CPU time, peak = largest RSS rise during the call",
        "",
        "| N | d | true MI | new: wall s | cpu s | steps (stop) | error | peak MB "
        "| previous: wall s | cpu s | steps | error | peak MB | wall ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    RESULTS.mkdir(exist_ok=True)
    stem = "estimate_mi_speed_quick" if args.quick else "estimate_mi_speed"
    for n in sizes:
        for dim in args.dims:
            for seed in args.seeds:
                new = run_case(n, dim, args.rho, seed, previous=False)
                old = run_case(n, dim, args.rho, seed, previous=True)
                line = (
                    f"| {n:,} | {dim} | {gaussian_mi(dim, args.rho):.3f} | {new['wall']:.1f} | {new['cpu']:.1f} | "
                    f"{new['steps']} ({new['stop']}) | {new['error']:+.3f} | {new['peak_mb']:.0f} | "
                    f"{old['wall']:.1f} | {old['cpu']:.1f} | {old['steps']} | {old['error']:+.3f} | "
                    f"{old['peak_mb']:.0f} | {old['wall'] / new['wall']:.1f}× |"
                )
                lines.append(line)
                print(line, flush=True)
                (RESULTS / f"{stem}.txt").write_text("\n".join([*lines, "", "(incomplete: still running)"]) + "\n")
    wall = time.perf_counter() - began
    lines += ["", f"total wall time {wall / 60:.1f} min"]
    print(lines[-1])
    (RESULTS / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    meta = dict(
        commit=commit,
        command=" ".join([Path(sys.executable).name, *sys.argv]),
        seeds=args.seeds,
        threads=torch.get_num_threads(),
        rho=args.rho,
        sizes=sizes,
        dims=args.dims,
        wall_seconds=round(wall, 1),
        torch=torch.__version__,
        machine=platform.machine(),
    )
    (RESULTS / f"{stem}_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
