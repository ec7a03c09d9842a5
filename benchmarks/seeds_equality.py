"""``mine-gan fit --seeds`` against single runs: the issue's two commands per config, compared column by column.

For each config, seed ``k`` of one batched run (``--seeds 0,...``) must log what ``--seed_everything=k`` logs
alone: ``train/d_loss``, ``train/g_loss`` and ``train/mi`` at every logged step, in float64
(``--trainer.precision=64-true``), one epoch of ``--batches`` batches, logged every 10 steps. Prints, per
config and column, the largest relative difference over steps and the number of steps compared; the target is
1e-6, and the script exits with status 1 when any column exceeds it or compared no step (a NaN counts as a miss).

Writes ``benchmarks/results/seeds_equality.txt`` and ``seeds_equality_meta.json`` (commit, command).

    python benchmarks/seeds_equality.py            # gaussians25/gan_mine.yaml and bigan_digits/bigan_mine.yaml
    python benchmarks/seeds_equality.py --configs experiments/gaussians25/gan_mine.yaml --batches 20 --results /tmp/x
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = ("experiments/gaussians25/gan_mine.yaml", "experiments/bigan_digits/bigan_mine.yaml")
COLUMNS = ("train/d_loss", "train/g_loss", "train/mi")
TOLERANCE = 1e-6  # largest relative difference allowed between seed k of --seeds and --seed_everything=k


def fit(config: str, seed_args: list[str], run_dir: Path, batches: int) -> None:
    args = [
        sys.executable, "-m", "mine_gan", "fit", "--config", str(ROOT / config), *seed_args,
        "--trainer.precision=64-true", "--trainer.max_epochs=1", f"--trainer.limit_train_batches={batches}",
        "--trainer.log_every_n_steps=10", "--trainer.limit_val_batches=0", "--trainer.enable_progress_bar=false",
        "--trainer.logger=CSVLogger", f"--trainer.logger.init_args.save_dir={run_dir.parent}",
        f"--trainer.logger.init_args.name={run_dir.name}", "--trainer.logger.init_args.version=run",
        "--torch_threads=1",
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, cwd=run_dir.parent, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")


def logged(path: Path) -> dict[tuple[str, int], float]:
    with open(path) as f:
        return {(c, int(r["step"])): float(r[c]) for r in csv.DictReader(f) for c in COLUMNS if r.get(c)}


def relative_difference(
    batched: dict[tuple[str, int], float], single: dict[tuple[str, int], float], column: str
) -> float:
    """Largest ``|a − b| / |b|`` of ``column`` over the logged steps; NaN when no step logged it (or a value is NaN)."""
    keys = [k for k in single if k[0] == column]
    if not keys:
        return float("nan")
    return max(abs(batched[k] - single[k]) / max(abs(single[k]), 1e-12) for k in keys)


def misses(rows: list[tuple[str, int, str, float]], tolerance: float = TOLERANCE) -> list[str]:
    """The ``(config, seed, column, relative difference)`` rows that are not within ``tolerance`` (NaN is not)."""
    return [f"{config} seed {seed} {column}: {rel:.1e}" for config, seed, column, rel in rows if not rel <= tolerance]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), help="YAML files, relative to the repository")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the table and its meta file")
    args = p.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    start = time.time()
    lines = [
        f"Seed k of `mine-gan fit --seeds {','.join(map(str, args.seeds))}` against `--seed_everything=k`, "
        f"float64, {args.batches} batches, logged every 10 steps. Commit {commit[:7]}.",
        "",
        "| config | seed | column | steps compared | max relative difference |",
        "|---|---|---|---|---|",
    ]
    rows: list[tuple[str, int, str, float]] = []
    with tempfile.TemporaryDirectory() as work:
        for config in args.configs:
            name = Path(config).parent.name
            batched = Path(work) / f"{name}_batched"
            fit(config, ["--seeds", ",".join(map(str, args.seeds))], batched, args.batches)
            for seed in args.seeds:
                single = Path(work) / f"{name}_seed{seed}"
                fit(config, [f"--seed_everything={seed}"], single, args.batches)
                a = logged(batched / "run" / f"seed_{seed}" / "metrics.csv")
                b = logged(single / "run" / "metrics.csv")
                if a.keys() != b.keys():
                    raise RuntimeError(f"{config} seed {seed}: logged steps differ: {sorted(a.keys() ^ b.keys())[:5]}")
                for column in COLUMNS:
                    rel = relative_difference(a, b, column)
                    rows.append((config, seed, column, rel))
                    lines.append(f"| {config} | {seed} | {column} | {sum(k[0] == column for k in b)} | {rel:.1e} |")
    worst = max((rel for *_, rel in rows), default=float("nan"))
    failed = misses(rows)
    lines += [
        "",
        f"Largest relative difference: {worst:.1e} (target {TOLERANCE:.0e}): {'MISSED' if failed else 'met'}.",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "seeds_equality.txt").write_text("\n".join(lines) + "\n")
    meta = {"commit": commit, "command": "python benchmarks/seeds_equality.py " + " ".join(sys.argv[1:]),
            "wall_seconds": round(time.time() - start, 1),
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    (args.results / "seeds_equality_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print("\n".join(lines))
    if failed:
        print(f"seeds_equality: {len(failed)} columns above {TOLERANCE:.0e}: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
