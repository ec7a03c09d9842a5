"""Wall time, steps, error and peak memory of ``estimate_mi``: the new defaults against the previous ones.

Cases: ``d`` independent pairs of standard normals with correlation ``ρ`` per pair (MINE paper §4.1),
``I = -d/2 log(1 - ρ²)`` nats in closed form, for d ∈ {1, 5, 25} and N ∈ {10 000, 100 000, 1 000 000}.
Each case runs ``estimate_mi(x, z, seed=s)`` with today's defaults and with the arguments that reproduce
the defaults before issue 14 (``PREVIOUS`` below: 3 000 steps, ReLU critic, cosine lr, no weight
averaging, checkpoints every 150 steps, no plateau stop). Peak memory is the largest rise of the
process's resident set during the call, sampled every 5 ms (the samples themselves are allocated before).

Targets (issue 21): at N = 10 000 on 2 threads, d = 5 within 5 s wall and within 0.06 nats on every
data draw (seeds 1000–1004, ``--draws``), within ±0.02 on average; d = 25 within 0.25 nats in 10 s; at
N = 100 000 within 3× the N = 10 000 time for every d. The machine may be shared: each row records the
1-minute load average at its end, and CPU time beside wall time.

    python benchmarks/estimate_mi_speed.py [--quick] [--seeds 0] [--threads 2] [--rho 0.5]
        [--sizes 10000 100000] [--no-previous] [--draws 1000 1001 1002 1003 1004]

``--no-previous`` skips the defaults before issue 14 (3 000 steps each: most of the run time).
``--draws`` adds a table of the d = 5, N = 10 000 case over those data seeds (estimator seed = data seed).
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
    torch.manual_seed(seed)  # the previous defaults' critic is built here, outside estimate_mi's seeding
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
        load=os.getloadavg()[0],
    )


def draws_table(seeds: list[int], rho: float, n: int = 10_000, dim: int = 5) -> list[str]:
    """The issue's case over several data draws: one row per data seed, then the mean and largest error."""
    lines = [
        f"d = {dim} + {dim}, ρ = {rho}, N = {n:,} (true MI {gaussian_mi(dim, rho):.3f}), one row per data seed",
        "",
        "| data seed | estimate | error | stderr | wall s | cpu s | steps (stop) | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    errors = []
    for seed in seeds:
        x, z = correlated_gaussians(n, dim, rho, torch.Generator().manual_seed(seed))
        start, cpu = time.perf_counter(), time.process_time()
        result = estimate_mi(x, z, seed=seed)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        errors.append(result.value - gaussian_mi(dim, rho))
        lines.append(
            f"| {seed} | {result.value:.3f} | {errors[-1]:+.3f} | {result.stderr:.3f} | {wall:.1f} | {cpu:.1f} | "
            f"{result.steps_taken} ({result.stop_reason}) | {os.getloadavg()[0]:.1f} |"
        )
        print(lines[-1], flush=True)
    lines += ["", f"mean error {sum(errors) / len(errors):+.3f}, largest |error| {max(map(abs, errors)):.3f}"]
    print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 10 000 only")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rho", type=float, default=0.5)
    parser.add_argument("--dims", type=int, nargs="+", default=list(DIMS))
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--no-previous", action="store_true", help="skip the defaults before issue 14")
    parser.add_argument("--draws", type=int, nargs="*", default=[], help="data seeds of the d = 5 table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = args.sizes or ([SIZES[0]] if args.quick else list(SIZES))
    began = time.perf_counter()
    lines = [
        f"{platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"ρ = {args.rho} per coordinate pair, I = -d/2 log(1 - ρ²); seeds {args.seeds}; "
        "cpu = process CPU time, peak = largest RSS rise during the call, load = 1-minute load average "
        "at the end of the call (2 cores)",
        "",
        "| N | d | true MI | new: wall s | cpu s | steps (stop) | error | peak MB | load "
        + ("" if args.no_previous else "| previous: wall s | cpu s | steps | error | peak MB | wall ratio ")
        + "|",
        "|---|---|---|---|---|---|---|---|---|" + ("" if args.no_previous else "---|---|---|---|---|---|"),
    ]
    print("\n".join(lines), flush=True)
    RESULTS.mkdir(exist_ok=True)
    stem = "estimate_mi_speed_quick" if args.quick else "estimate_mi_speed"
    # One short call first: the first call in a process pays one-off costs (lazy imports, kernel setup).
    estimate_mi(*correlated_gaussians(2000, 2, args.rho, torch.Generator().manual_seed(0)), steps=20, seed=0)
    times: dict[tuple[int, int], dict[int, tuple[float, float]]] = {}
    for n in sizes:
        for dim in args.dims:
            for seed in args.seeds:
                new = run_case(n, dim, args.rho, seed, previous=False)
                times.setdefault((dim, seed), {})[n] = (new["wall"], new["cpu"])
                line = (
                    f"| {n:,} | {dim} | {gaussian_mi(dim, args.rho):.3f} | {new['wall']:.1f} | {new['cpu']:.1f} | "
                    f"{new['steps']} ({new['stop']}) | {new['error']:+.3f} | {new['peak_mb']:.0f} | {new['load']:.1f} |"
                )
                if not args.no_previous:
                    old = run_case(n, dim, args.rho, seed, previous=True)
                    line += (
                        f" {old['wall']:.1f} | {old['cpu']:.1f} | {old['steps']} | {old['error']:+.3f} | "
                        f"{old['peak_mb']:.0f} | {old['wall'] / new['wall']:.1f}× |"
                    )
                lines.append(line)
                print(line, flush=True)
                (RESULTS / f"{stem}.txt").write_text("\n".join([*lines, "", "(incomplete: still running)"]) + "\n")
    ratios = [
        f"d = {dim} (seed {seed}): wall {t[n][0] / t[sizes[0]][0]:.1f}×, cpu {t[n][1] / t[sizes[0]][1]:.1f}×"
        for (dim, seed), t in times.items()
        for n in sizes[1:2]
        if n in t and sizes[0] in t
    ]
    if ratios:
        lines += ["", f"N = {sizes[1]:,} against N = {sizes[0]:,}: " + "; ".join(ratios)]
        print(lines[-1])
    if args.draws:
        lines += ["", *draws_table(args.draws, args.rho)]
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
        previous=not args.no_previous,
        draws=args.draws,
        wall_seconds=round(wall, 1),
        torch=torch.__version__,
        machine=platform.machine(),
    )
    (RESULTS / f"{stem}_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
