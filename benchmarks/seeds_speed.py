"""Cost of ``mine-gan fit --seeds``: S seeds of the default run in one process, against one seed alone.

Every measurement is a real ``python -m mine_gan fit`` of ``mine_gan/configs/default.yaml`` (the default
run: InfoGAN+MINE, 3x128 MLPs, batch 256, R1, linear decay) in a subprocess, timed per training iteration
after a warm-up by ``benchmarks/_iteration_timer.py`` (no validation, pictures or checkpoints). The runs of
one table are interleaved over ``--repeats`` rounds and the median is reported, so a machine whose load
drifts affects every row alike. ``--baseline REF`` also times one seed at another commit (checked out with
``git worktree`` under a temporary folder): the single run must cost no more than before ``--seeds`` existed.

Writes ``benchmarks/results/seeds_speed.txt`` and ``seeds_speed_meta.json`` (commit, command, load).

    python benchmarks/seeds_speed.py --baseline b1ce256 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT = ROOT / "mine_gan" / "configs" / "default.yaml"
sys.path.insert(0, str(ROOT / "benchmarks"))
from _iteration_timer import checkout, time_fit, timing_meta  # noqa: E402


def time_run(source: Path, seeds: int, threads: int, batches: int, warmup: int) -> float:
    """Seconds per training iteration of the default run with ``seeds`` seeds, from the package at ``source``."""
    extra = ["--seeds", ",".join(map(str, range(seeds)))] if seeds > 1 else []
    return time_fit(DEFAULT, source, threads=threads, batches=batches, warmup=warmup, extra=extra).wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the batched run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=220, help="training iterations per run")
    parser.add_argument("--warmup", type=int, default=20, help="iterations not timed")
    parser.add_argument("--baseline", default=None, help="a commit whose single run is timed too")
    args = parser.parse_args()
    start = time.time()
    rows = [("this commit", 1, 1, ROOT), ("this commit", 1, 2, ROOT)]
    rows += [("this commit", args.seeds, 1, ROOT), ("this commit", args.seeds, 2, ROOT)]
    loads: list[float] = []
    with checkout(args.baseline) as baseline_dir:
        if baseline_dir is not None:
            rows.insert(0, (f"baseline {args.baseline}", 1, 1, baseline_dir))
        times: dict[int, list[float]] = {i: [] for i in range(len(rows))}
        for _ in range(args.repeats):
            for i, (_, seeds, threads, source) in enumerate(rows):
                loads.append(os.getloadavg()[0])
                times[i].append(time_run(source, seeds, threads, args.batches, args.warmup))
    single = {threads: statistics.median(times[i]) for i, (name, s, threads, _) in enumerate(rows)
              if s == 1 and name == "this commit"}  # fmt: skip
    lines = [
        f"mine-gan fit of mine_gan/configs/default.yaml, {args.batches - args.warmup} timed iterations per run, "
        f"median of {args.repeats} interleaved rounds; load average during the runs {min(loads):.1f}-{max(loads):.1f}",
        "",
        "| code | seeds | threads | ms / iteration | ms / seed-iteration | per seed-iteration vs one seed, 1 thread |",
        "|---|---|---|---|---|---|",
    ]
    for i, (name, seeds, threads, _) in enumerate(rows):
        t = statistics.median(times[i])
        lines.append(
            f"| {name} | {seeds} | {threads} | {1e3 * t:.2f} | {1e3 * t / seeds:.2f} | {t / seeds / single[1]:.2f}x |"
        )
    lines += ["", "all runs (ms / iteration): " + json.dumps({rows[i][0] + f" S={rows[i][1]} T={rows[i][2]}":
              [round(1e3 * t, 2) for t in v] for i, v in times.items()})]  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "seeds_speed.txt").write_text(text)
    meta = timing_meta(start, loads)
    (RESULTS / "seeds_speed_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
