"""Mode coverage on PacGAN's 2-D grid and ring: GAN, the strongest MI-free baseline, GAN+MINE, InfoGAN.

Data and scoring are PacGAN's (Lin et al., 2018, Table 1): 25 Gaussians on the grid ``{-4, -2, 0, 2, 4}²``
with std 0.05, 8 on the unit circle with std 0.01; 2,500 samples per run; a sample is high quality within 3σ
of its nearest mode; a mode is captured when at least one high-quality sample falls on it; the reverse KL is
:math:`\\mathrm{KL}(p_G \\| \\mathrm{uniform})` of the high-quality samples' mode histogram
(:func:`mine_gan.metrics.functional.mode_coverage`).

All seeds of a variant train together as one batched model (:class:`mine_gan.batched.BatchedGANTrainer`);
every seed's draws and initial weights depend on that seed only. Variants:

* **GAN**: the recipe with ``mi_weight=0``, no penalty, one D step (the code is fed, not rewarded);
* **best MI-free**: the strongest baseline without an MI term found by ``mode_coverage_tune.py`` (R1 penalty
  and/or ``d_steps``) on seeds 100+;
* **GAN+MINE (code)**: ``−β·I(G([ε, c]); c)`` with MINE's T trained on the Jensen-Shannon bound, eq. 21
  clipping, the recipe chosen by ``mode_coverage_tune.py`` on seeds 100+;
* **GAN+MINE (entropy)**: the same with ``I(G(z); z)`` over the whole latent (ICLR 2018 submission);
* **InfoGAN (Q)**: the same code MI through InfoGAN's ``Q(c | x)`` head on D.

Each MI variant differs from its MI-free counterpart only by the MI term (same penalty, learning rates,
networks, draws). Paired differences to the best MI-free baseline are seed by seed with a 95 % Student-t
interval.

Usage::

    python benchmarks/mode_coverage.py             # seeds 0-9, all variants, grid and ring
    python benchmarks/mode_coverage.py --quick     # seeds 0-2, grid, GAN vs GAN+MINE (code)

Writes ``benchmarks/results/mode_coverage.txt`` (the printed table), ``mode_coverage.csv`` (one row per
run) and ``mode_coverage_meta.json`` (commit, command, seeds, config hashes, wall time); ``--quick`` writes
``mode_coverage_quick.*``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from mine_gan.batched import BatchedGANTrainer, GANConfig, train_and_score
from mine_gan.data import GaussianMixture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from harness import paired_interval  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TUNED = RESULTS / "mode_coverage_tune.json"
BASELINE = "best MI-free"
#: PacGAN Table 1 (10 trials): modes / high-quality % / reverse KL
PACGAN = {
    "grid": "GAN 17.3 / 94.8 / 0.70 · ALI 24.1 / 95.7 / 0.14 · PacGAN2 23.8 / 91.3 / 0.13 · PacGAN4 24.8 / 93.6 / 0.04",
    "ring": "GAN 6.3 / 98.2 / 0.45 · PacGAN2 7.9 / 95.6 / 0.07 · PacGAN4 7.8 / 95.9 / 0.07",
}


def variants(tuned: dict[str, Any]) -> dict[str, GANConfig]:
    """The five variants, from the recipes ``mode_coverage_tune.py`` chose on the tuning seeds."""
    mine = GANConfig(**tuned["winners"]["mine"]["recipe"])
    baseline = GANConfig(**tuned["winners"]["baseline"]["recipe"])
    return {
        "GAN": replace(mine, mi_weight=0.0, d_penalty=0.0, d_steps=1),
        BASELINE: baseline,
        "GAN+MINE (code)": mine,
        "GAN+MINE (entropy)": replace(mine, mi_target="latent"),
        "InfoGAN (Q)": replace(mine, mi="q"),
    }


def mean_sd(values: list[float], digits: int) -> str:
    """``mean ± sd``; runs without a value (KL of a run with no high-quality sample) are left out and counted."""
    finite = [float(v) for v in values if not math.isnan(v)]
    missing = f" ({len(values) - len(finite)} nan)" if len(finite) < len(values) else ""
    if not finite:
        return "nan" + missing
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.fmean(finite):.{digits}f} ± {sd:.{digits}f}{missing}"


def interval(rows: list[dict[str, Any]], variant: str, metric: str, digits: int) -> str:
    base = {r["seed"]: float(r[metric]) for r in rows if r["variant"] == BASELINE and not math.isnan(r[metric])}
    mine = {r["seed"]: float(r[metric]) for r in rows if r["variant"] == variant and not math.isnan(r[metric])}
    if variant == BASELINE or not base or not set(base) & set(mine):
        return "—"
    mean, low, high, _ = paired_interval(base, mine)
    if math.isnan(low):
        return f"{mean:+.{digits}f}"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def table(rows: list[dict[str, Any]], dataset: str, names: list[str], speed: dict[str, float]) -> list[str]:
    """Summary lines of one dataset: per variant, then paired differences to the MI-free baseline."""
    present = [n for n in names if any(r["dataset"] == dataset and r["variant"] == n for r in rows)]
    if not present:
        return []
    k = next(r["num_modes"] for r in rows if r["dataset"] == dataset)
    lines = [
        f"{dataset} ({k} modes); PacGAN Table 1: {PACGAN[dataset]}",
        f"{'variant':<20} {'modes':>12} {'min':>4} {'HQ %':>12} {'KL':>13} {'iters':>6} {'ms/it':>7} "
        f"{'ms/seed-it':>10} {'alone':>7}",
    ]
    for name in present:
        rs = [r for r in rows if r["dataset"] == dataset and r["variant"] == name]
        alone = speed.get(name)
        lines.append(
            f"{name:<20} {mean_sd([r['modes'] for r in rs], 1):>12} {min(r['modes'] for r in rs):>4d} "
            f"{mean_sd([r['high_quality_pct'] for r in rs], 1):>12} {mean_sd([r['kl'] for r in rs], 3):>13} "
            f"{rs[0]['iterations']:>6d} {rs[0]['ms_per_iteration']:>7.1f} {rs[0]['ms_per_seed_iteration']:>10.2f} "
            f"{'' if alone is None else f'{alone:.2f}':>7}"
        )
    sub = [r for r in rows if r["dataset"] == dataset]
    if any(r["variant"] == BASELINE for r in sub):
        lines.append(f"paired difference to '{BASELINE}', mean [95 % t-interval] over seeds:")
        lines.append(f"{'variant':<20} {'Δ modes':>24} {'Δ HQ %':>26} {'Δ KL':>28}")
        for name in present:
            if name == BASELINE:
                continue
            lines.append(
                f"{name:<20} {interval(sub, name, 'modes', 2):>24} {interval(sub, name, 'high_quality_pct', 1):>26} "
                f"{interval(sub, name, 'kl', 3):>28}"
            )
    return lines


def measure_alone(config: GANConfig, data: GaussianMixture, seed: int, iterations: int) -> float:
    """ms per iteration of one seed trained alone (S = 1), after a short warm-up."""
    trainer = BatchedGANTrainer(config, data, [seed])
    trainer.train(3)
    trainer.seconds = 0.0
    trainer.train(iterations)
    return 1000.0 * trainer.seconds / iterations


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="seeds 0-2, grid, GAN vs GAN+MINE (code), <= 5,000 iterations")
    p.add_argument("--seeds", type=int, nargs="+", help="default 0-9 (0-2 with --quick)")
    p.add_argument("--datasets", nargs="+", choices=["grid", "ring"], help="default both (grid with --quick)")
    p.add_argument("--variants", nargs="+", help="names of variants to run (default all)")
    p.add_argument("--iterations", type=int, help="override the tuned recipe's iterations")
    p.add_argument("--speed-iterations", type=int, default=30, help="iterations timed for one seed alone")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tuned", type=Path, default=TUNED)
    p.add_argument("--out", type=Path, help="stem of the result files (default benchmarks/results/mode_coverage)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tuned = json.loads(args.tuned.read_text())
    configs = variants(tuned)
    seeds = args.seeds or ([0, 1, 2] if args.quick else list(range(10)))
    datasets = args.datasets or (["grid"] if args.quick else ["grid", "ring"])
    names = args.variants or (["GAN", "GAN+MINE (code)"] if args.quick else list(configs))
    unknown = set(names) - set(configs)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; choose from {list(configs)}")
    iterations = args.iterations or configs["GAN+MINE (code)"].iterations
    if args.quick:
        iterations = min(iterations, 5_000)
    configs = {n: replace(configs[n], iterations=iterations, name=n) for n in names}
    stem = args.out or RESULTS / ("mode_coverage_quick" if args.quick else "mode_coverage")
    stem.parent.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    digests = {n: c.digest() for n, c in configs.items()}
    header = [
        f"PacGAN 2-D protocol, seeds {seeds}, {iterations} iterations x batch {configs[names[0]].batch_size}, "
        f"hidden {list(configs[names[0]].hidden_dims)}, 2,500 samples scored per run; recipes chosen on seeds "
        f"{tuned['seeds']} by mode_coverage_tune.py",
        "recipes: "
        + "; ".join(f"{n} = {tuned['winners'][k]['label']}" for n, k in (("GAN+MINE", "mine"), (BASELINE, "baseline"))),
        "ms/it: one batched iteration of all seeds; ms/seed-it: that / seeds; alone: one seed trained by itself "
        f"({args.speed_iterations} iterations); {os.cpu_count()} CPUs shared, 1 thread",
    ]
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    speed: dict[str, float] = {}

    def write(done: bool) -> str:
        text = list(header)
        for dataset in datasets:
            text += [""] + table(rows, dataset, names, speed)
        if "GAN" in speed and "GAN+MINE (code)" in speed:
            text.append(
                f"\nGAN+MINE (code) / GAN time per iteration, one seed alone: "
                f"{speed['GAN+MINE (code)'] / speed['GAN']:.2f} (target <= 1.5)"
            )
        wall = time.perf_counter() - start
        text.append(f"wall time {wall / 60:.1f} min{'' if done else ' (partial: still running)'}")
        out = "\n".join(text) + "\n"
        stem.with_suffix(".txt").write_text(out)
        if rows:
            with open(stem.with_suffix(".csv"), "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        meta = {
            "git_commit": commit,
            "command": command,
            "seeds": seeds,
            "datasets": datasets,
            "variants": names,
            "iterations": iterations,
            "config_sha256": hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:12],
            "config_digests": digests,
            "recipes": {n: c.recipe() for n, c in configs.items()},
            "tuned_on_seeds": tuned["seeds"],
            "wall_seconds": round(wall, 1),
            "complete": done,
        }
        Path(f"{stem}_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        return out

    for dataset in datasets:
        data = GaussianMixture(dataset)
        for name in names:
            if name not in speed:
                speed[name] = measure_alone(configs[name], data, seeds[0], args.speed_iterations)
            seed_rows, _ = train_and_score(configs[name], data, seeds)
            for r in seed_rows:
                rows.append(
                    {
                        "dataset": dataset,
                        "variant": name,
                        **r,
                        "ms_per_seed_iteration": r["ms_per_iteration"] / len(seeds),
                        "config": digests[name],
                    }
                )
            print(
                f"{dataset} {name}: modes {[r['modes'] for r in seed_rows]}, "
                f"HQ {[round(r['high_quality_pct'], 1) for r in seed_rows]}, "
                f"KL {[round(r['kl'], 3) for r in seed_rows]}",
                flush=True,
            )
            write(done=False)
    print(write(done=True))


if __name__ == "__main__":
    main()
