"""Choose the mode-coverage recipe on TUNING seeds (100+), never on the scored seeds 0-9, by sample quality.

Every candidate is ``experiments/gaussians25/gan_mine.yaml`` (or ``gan.yaml`` for the MI-free family, β = 0)
with command-line overrides, trained as ``mine-gan fit --seeds <tuning seeds>`` (the module's own step,
batched over seeds) for as long as the study (``--iterations``, 30,000 by default). The rule:

* keep the candidates that capture every mode on every tuning seed;
* among them, the highest mean high-quality (HQ) percentage wins; the lower mean reverse KL breaks ties.

Ranking by mode count first would choose on noise: uniform points score 21.8 of 25 modes under PacGAN's rule,
and only HQ separates recipes that cover the grid. Both families get the same grid (``--grid``, a JSON object
``{override: [values]}``; the full product is searched) and the same rule. The robustness figure of the study
is the share of candidates with every mode and ≥ 80 % HQ on every seed, per family. Resumable: each finished
candidate is appended to the CSV, and a rerun skips candidates already there.

    python benchmarks/mode_coverage_tune.py               # one factor at a time around the YAML, seeds 100-101, 30k
    python benchmarks/mode_coverage_tune.py --search product   # the full product of the grid (576 runs of 30k)
    python benchmarks/mode_coverage_tune.py --grid '{"model.init_args.lr_g": [2e-4, 5e-4]}' --iterations 3000

``--search one_factor`` (the default) trains the YAML as it is and, for every key of the grid, the YAML with that
one key set to each of its values: 1 + 14 candidates for the MI-free family and 1 + 17 for GAN+MINE, against
576 for the full product (about 15 minutes of one CPU thread per 2-seed candidate of 30,000 iterations).

Writes ``benchmarks/results/mode_coverage_tune.{txt,csv,json}``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
from harness import fit_seeds, iterations_per_epoch, mode_coverage_row  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs" / "mode_coverage_tune"
FAMILIES = {"GAN+MINE": "gan_mine.yaml", "MI-free": "gan.yaml"}
#: issue 18's search space: learning rate (G, D and T together), R1's γ, D steps, width, batch; β for GAN+MINE
GRID: dict[str, list[Any]] = {
    "lr": [2e-4, 5e-4, 1e-3],
    "model.init_args.d_penalty": [0.0, 0.03, 0.1, 1.0],
    "model.init_args.d_steps": [1, 2],
    "width": [64, 128, 256],
    "data.init_args.batch_size": [256, 512],
}
MI_GRID: dict[str, list[Any]] = {"model.init_args.mi_weight": [0.5, 1.0, 2.0]}
NUM_MODES = 25


def overrides(setting: dict[str, Any]) -> list[str]:
    """Command-line overrides of one candidate; ``lr`` sets the three learning rates, ``width`` both networks."""
    out = []
    for key, value in setting.items():
        if key == "lr":
            out += [f"--model.init_args.{name}={value}" for name in ("lr_g", "lr_d", "lr_mi")]
        elif key == "width":
            out += [f"--model.init_args.{net}.init_args.hidden_dims=[{value}, {value}, {value}]"
                    for net in ("generator", "discriminator")]  # fmt: skip
        elif key == "data.init_args.batch_size":
            # The same number of iterations per epoch at any batch size: num_samples follows the batch.
            out += [f"--{key}={value}", f"--data.init_args.num_samples={300 * int(value)}"]
        else:
            out.append(f"--{key}={value}")
    return out


def label(family: str, setting: dict[str, Any]) -> str:
    if not setting:
        return f"{family} (the YAML as it is)"
    return family + " " + " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in setting.items())


def candidates(grid: dict[str, list[Any]], search: str) -> list[dict[str, Any]]:
    """The settings to train: the grid's full product, or the YAML plus one key changed at a time.

    Example:
        >>> candidates({"a": [1, 2], "b": [3]}, "product")
        [{'a': 1, 'b': 3}, {'a': 2, 'b': 3}]
        >>> candidates({"a": [1, 2], "b": [3]}, "one_factor")
        [{}, {'a': 1}, {'a': 2}, {'b': 3}]
    """
    if search == "product":
        return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    return [{}, *({key: value} for key, values in grid.items() for value in values)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    p.add_argument("--iterations", type=int, default=30_000)
    p.add_argument("--grid", type=json.loads, default=GRID, help="JSON {override: [values]} shared by both families")
    p.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    p.add_argument("--search", choices=["one_factor", "product"], default="one_factor", help="see the module doc")
    p.add_argument("--report", action="store_true", help="write the table and winners from the CSV; train nothing")
    p.add_argument("--out", type=Path, default=RESULTS / "mode_coverage_tune")
    args = p.parse_args()
    if min(args.seeds) < 100:
        raise SystemExit(f"tuning seeds must be >= 100 (0-9 are the reported seeds), got {args.seeds}")
    stem: Path = args.out
    stem.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    done: dict[str, list[dict[str, Any]]] = {}
    if stem.with_suffix(".csv").exists():
        with open(stem.with_suffix(".csv")) as f:
            for r in csv.DictReader(f):
                done.setdefault(r["candidate"], []).append(r)
    start = time.time()
    grids = {family: dict(args.grid) | (MI_GRID if family == "GAN+MINE" else {}) for family in args.families}
    # A family's winner stands only once every one of its candidates has run (mode_coverage.py reads it then).
    planned = {family: [label(family, s) for s in candidates(grids[family], args.search)] for family in args.families}

    def finished() -> list[str]:
        return [family for family, names in planned.items() if all(n in done for n in names)]

    for family in args.families:
        config = ROOT / "experiments" / "gaussians25" / FAMILIES[family]
        grid = grids[family]
        for setting in candidates(grid, args.search):
            name = label(family, setting)
            if name in done or args.report:
                continue
            extra = overrides(setting)
            per_epoch = iterations_per_epoch(config) // int(setting.get("model.init_args.d_steps", 1))
            extra.append(f"--trainer.max_epochs={-(-args.iterations // per_epoch)}")
            digest = hashlib.sha256(" ".join(extra).encode()).hexdigest()[:12]
            began = time.time()
            per_seed = fit_seeds(config, args.seeds, RUNS / digest, extra)
            rows = [{"candidate": name, "family": family, "seed": seed, **mode_coverage_row(m, per_epoch, NUM_MODES),
                     "seconds": round(time.time() - began), "overrides": " ".join(extra)}
                    for seed, m in per_seed.items()]  # fmt: skip
            done[name] = rows
            write(stem, done, args, commit, time.time() - start, finished())
            print(f"{name}: HQ {[round(float(r['high_quality_pct']), 1) for r in rows]}", flush=True)
    print(write(stem, done, args, commit, time.time() - start, finished()))


def write(
    stem: Path,
    done: dict[str, list[dict[str, Any]]],
    args: argparse.Namespace,
    commit: str,
    wall: float,
    complete: list[str],
) -> str:
    """Table, CSV and the winners (JSON) of the candidates finished so far; ``complete``: the families all run."""
    rows = [r for rs in done.values() for r in rs]
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    summary = {}
    for name, rs in done.items():
        modes = [float(r["modes"]) for r in rs]
        hq = [float(r["high_quality_pct"]) for r in rs]
        kl = [float(r["kl"]) for r in rs]
        summary[name] = {"family": rs[0]["family"], "min_modes": min(modes), "hq": statistics.fmean(hq),
                         "min_hq": min(hq), "kl": statistics.fmean(kl) if not any(map(math.isnan, kl)) else math.inf,
                         "overrides": rs[0]["overrides"]}  # fmt: skip
    lines = [f"Tuning on the 25-Gaussian grid, seeds {args.seeds}, {args.iterations} iterations; mean over seeds",
             f"{'candidate':<90} {'min modes':>9} {'HQ %':>6} {'min HQ':>6} {'KL':>8}"]  # fmt: skip
    winners = {}
    for family in FAMILIES:
        members = {n: s for n, s in summary.items() if s["family"] == family}
        for name, s in members.items():
            lines.append(f"{name:<90} {s['min_modes']:>9.0f} {s['hq']:>6.1f} {s['min_hq']:>6.1f} {s['kl']:>8.4f}")
        eligible = {n: s for n, s in members.items() if s["min_modes"] >= NUM_MODES}
        if eligible:
            best = max(eligible, key=lambda n: (eligible[n]["hq"], -eligible[n]["kl"]))
            winners[family] = {"candidate": best, "overrides": eligible[best]["overrides"]}
            so_far = "" if family in complete else " (best so far: the search is not complete)"
            lines.append(f"chosen {family}: {best}{so_far}")
        robust = sum(s["min_modes"] >= NUM_MODES and s["min_hq"] >= 80 for s in members.values())
        if members:
            lines.append(f"{family}: {robust}/{len(members)} candidates keep every mode with >= 80 % HQ on every seed")
    this = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    previous = json.loads(stem.with_suffix(".json").read_text()) if stem.with_suffix(".json").exists() else {}
    # A report trains nothing: the rows' commit and command stay, the report's own go beside them.
    trained = previous.get("commit", commit) if args.report else commit
    where = f"rows trained at commit {trained[:7]}, tables at {commit[:7]}" if args.report else f"commit {commit[:7]}"
    lines.append("rule: every mode on every tuning seed, then highest mean HQ %, then lowest mean KL; "
                 f"wall {wall / 60:.1f} min this run; {where}")  # fmt: skip
    text = "\n".join(lines) + "\n"
    stem.with_suffix(".txt").write_text(text)
    meta = {
        "commit": trained,
        "seeds": args.seeds,
        "iterations": args.iterations,
        "grid": args.grid,
        "search": args.search,
        "winners": winners,
        "complete_families": complete,
        "command": previous.get("command", this) if args.report else this,
        **({"report": {"command": this, "commit": commit}} if args.report else {}),
    }
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")  # fmt: skip
    return text


if __name__ == "__main__":
    main()
