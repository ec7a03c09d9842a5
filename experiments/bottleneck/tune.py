"""Choose β and the noise scale of each MINE-IB encoder by validation accuracy, never by test error.

Every candidate of ``GRID`` is trained on the tuning seeds (disjoint from the seeds of the table that
``run.py`` reports) and scored by its mean validation accuracy, ties broken by the lower I(X; Z) estimate.
The winner of each encoder kind is what ``run.py``'s ``VARIANTS`` should hold; this script prints the
table and the winners, and writes ``results/tuning_<scale>.{csv,md}``.

    python experiments/bottleneck/tune.py --workers 2               # digits, seeds 100-104
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from harness import write_meta  # noqa: E402
from run import RESULTS, run_job  # noqa: E402

# Candidates per encoder kind: InformationBottleneck arguments overriding the config's model.
GRID: dict[str, list[dict[str, Any]]] = {
    "deterministic": [{"encoder": "gaussian", "mi_weight": 0.0}],
    "gaussian": [
        {"encoder": "gaussian", "mi_weight": beta, "clip": clip} for beta in (1e-3, 1e-2) for clip in (None, "adaptive")
    ]
    + [{"encoder": "gaussian", "mi_weight": 1e-1, "clip": "adaptive"}]
    # A faster critic (the config's lr is 1e-3) keeps up with an encoder that descends its bound.
    + [{"encoder": "gaussian", "mi_weight": 1e-2, "lr_mi": lr} for lr in (3e-3, 1e-2)],
    "additive": [
        {"encoder": "additive", "mi_weight": beta, "noise_std": std}
        for std in (0.1, 0.25, 0.5)
        for beta in (1e-3, 1e-2)
    ]
    + [{"encoder": "additive", "mi_weight": 1e-2, "noise_std": std, "lr_mi": 1e-2} for std in (0.1, 0.25)],
    "propagated": [
        {"encoder": "propagated", "mi_weight": beta, "noise_std": std} for std in (0.5, 1.0) for beta in (1e-3, 1e-2)
    ]
    + [{"encoder": "propagated", "mi_weight": 1e-2, "noise_std": 0.5, "lr_mi": 1e-2}],
}


def label(candidate: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in candidate.items() if k != "encoder")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104])
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel, one process each")
    args = parser.parse_args()
    config = yaml.safe_load((HERE / "configs" / f"{args.scale}.yaml").read_text())

    start = time.perf_counter()
    jobs = [(kind, label(c), c, seed) for kind, cands in GRID.items() for c in cands for seed in args.seeds]
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_job, config, name, cand, seed) for _, name, cand, seed in jobs]
        rows = [{"kind": kind, **future.result()} for (kind, *_), future in zip(jobs, futures, strict=True)]
    wall = time.perf_counter() - start

    lines = ["| encoder | candidate | val acc (mean ± std) | I(X; Z), independent | seeds |", "|---|---|---|---|---|"]
    winners = {}
    for kind, cands in GRID.items():
        scored = []
        for cand in cands:
            rs = [r for r in rows if r["kind"] == kind and r["variant"] == label(cand)]
            acc = [r["val_acc"] for r in rs]
            mi = statistics.fmean(r["mi_test"] for r in rs)
            std = statistics.stdev(acc) if len(acc) > 1 else 0.0
            scored.append((statistics.fmean(acc), -mi, label(cand)))
            lines.append(f"| {kind} | {label(cand)} | {statistics.fmean(acc):.4f} ± {std:.4f} | {mi:.2f} | {len(rs)} |")
        winners[kind] = max(scored)[2]
    table = (
        "\n".join(lines)
        + "\n\nChosen (highest mean validation accuracy, then lower I(X; Z)):\n\n"
        + "\n".join(f"- {kind}: {name}" for kind, name in winners.items())
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"tuning_{args.scale}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    note = f"\n\n{args.scale}, tuning seeds {args.seeds}, {wall / 60:.1f} min, {args.workers} worker process(es).\n"
    (RESULTS / f"tuning_{args.scale}.md").write_text(table + note)
    write_meta(RESULTS, f"tuning_{args.scale}", wall)
    print(table + note)


if __name__ == "__main__":
    main()
