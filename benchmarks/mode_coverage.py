"""Mode coverage on PacGAN's 2-D grid and ring, trained through the YAML files users run (``mine-gan fit --seeds``).

Data and scoring are PacGAN's (Lin et al., 2018, Table 1): 25 Gaussians on the grid ``{-4, -2, 0, 2, 4}²``
with std 0.05, 8 on the unit circle with std 0.01; 2,500 samples per run; a sample is high quality (HQ) within
3σ of its nearest mode; a mode is captured when at least one HQ sample falls on it; the reverse KL is
:math:`\\mathrm{KL}(p_G \\| \\mathrm{uniform})` of the HQ samples' mode histogram
(:func:`mine_gan.metrics.functional.mode_coverage`). Final figures are the ``final/*`` of the YAML's
``ModeHistogram`` callback; the learning curve is the ``val/*`` logged after every epoch (2,500 samples).

A variant is a YAML file of ``experiments/gaussians25/`` (grid) or ``experiments/ring8/`` (ring); all seeds of
one (dataset, variant) train as one batched model in one ``mine-gan fit --seeds`` process, which executes the
module's own training step (``tests/models/test_seeds.py`` ties it to single runs), so a row of the table is
what ``mine-gan fit --config <that file> --seed_everything=<seed> --trainer.max_epochs=<epochs>`` gives.

* **GAN+MINE (code)** ``gan_mine.yaml``: ``−β·I(G([ε, c]); c)``, MINE's T on the JS bound, eq. 21 clipping;
* **MI-free (gan.yaml)**: the same recipe (R1 on D, learning rates, networks, draws) with ``β = 0``;
* **MI-free (tuned)**: ``gan.yaml`` with the overrides ``mode_coverage_tune.py`` chose for the MI-free family
  on the grid's tuning seeds (``benchmarks/results/mode_coverage_tune.json``); the ring gets the same overrides,
  untuned there;
* **MI-free (GAN+MINE's wall time)**: ``gan.yaml`` trained for GAN+MINE's wall time instead of its iterations,
  ``--equal-wall-factor`` × the iterations (by default the ratio of the two jobs' measured wall times,
  GAN+MINE over MI-free (gan.yaml), recorded in the meta file when first used);
* **GAN+MINE (no clip)** ``gan_mine_noclip.yaml``, **GAN+MINE (entropy)** ``gan_mine_entropy.yaml``
  (``I(G(z); z)``), **InfoGAN (Q)** ``gan_q.yaml``.

Every variant with an MI term is paired seed by seed against every MI-free variant, on every figure: final
modes, HQ and KL, iterations to 90 % HQ, and iterations until every mode stays covered.

Resumable: the (dataset, variant) jobs run two at a time (one per core), each job's rows are appended to the
CSV when it finishes, an interrupted job resumes from its ``last.ckpt`` under ``runs/mode_coverage/``, and
``--resume`` skips the jobs already in the CSV with the same configuration. Paired differences against the
MI-free variants are seed by seed with a 95 % Student-t interval. Two reference rows are scored the
same way: uniform noise over the data's bounding box, and 2,500 samples of the true mixture.

    python benchmarks/mode_coverage.py --resume                       # seeds 0-9, 30,000 iterations, all variants
    python benchmarks/mode_coverage.py --variants "GAN+MINE (code)" "MI-free (gan.yaml)" --resume   # one pair
    python benchmarks/mode_coverage.py --report        # the tables again from the CSV and meta, training nothing

Writes ``benchmarks/results/mode_coverage.{txt,csv}`` and ``mode_coverage_meta.json``.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from mine_gan.data import GaussianMixture
from mine_gan.metrics.functional import mode_coverage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
from harness import CURVE, fit_seeds, iterations_per_epoch, mode_coverage_row, paired_interval  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs" / "mode_coverage"
FOLDERS = {"grid": "gaussians25", "ring": "ring8"}
TUNED, EQUAL_WALL = "MI-free (tuned)", "MI-free (GAN+MINE's wall time)"
VARIANTS = {
    "GAN+MINE (code)": "gan_mine.yaml",
    "MI-free (gan.yaml)": "gan.yaml",
    TUNED: "gan.yaml",
    EQUAL_WALL: "gan.yaml",
    "GAN+MINE (no clip)": "gan_mine_noclip.yaml",
    "GAN+MINE (entropy)": "gan_mine_entropy.yaml",
    "InfoGAN (Q)": "gan_q.yaml",
}
MI_FREE = ("MI-free (gan.yaml)", TUNED, EQUAL_WALL)
#: names rows of earlier runs carry (the CSV and the meta file's job keys), read as today's names
ALIASES = {"best MI-free": "MI-free (gan.yaml)"}
TUNING = RESULTS / "mode_coverage_tune.json"
#: PacGAN Table 1 (10 trials): modes / high-quality % / reverse KL
PACGAN = {
    "grid": "GAN 17.3 / 94.8 / 0.70 · ALI 24.1 / 95.7 / 0.14 · PacGAN2 23.8 / 91.3 / 0.13 · PacGAN4 24.8 / 93.6 / 0.04",
    "ring": "GAN 6.3 / 98.2 / 0.45 · PacGAN2 7.9 / 95.6 / 0.07 · PacGAN4 7.8 / 95.9 / 0.07",
}


def config_path(dataset: str, variant: str) -> Path:
    return ROOT / "experiments" / FOLDERS[dataset] / VARIANTS[variant]


def tuned_overrides() -> list[str] | None:
    """The MI-free family's winner of a finished ``mode_coverage_tune.py`` search (its overrides less the tuning's
    length), or None while the search is incomplete."""
    if not TUNING.exists():
        return None
    tuning = json.loads(TUNING.read_text())
    winner = tuning.get("winners", {}).get("MI-free")
    if winner is None or "MI-free" not in tuning.get("complete_families", []):
        return None  # a winner among the candidates run so far is not the search's winner
    return [o for o in winner["overrides"].split() if not o.startswith("--trainer.max_epochs=")]


def job(
    dataset: str, variant: str, iterations: int, equal_wall_factor: float | None
) -> tuple[Path, list[str], int, str] | None:
    """``(config, overrides, iterations per epoch, digest)`` of one (dataset, variant), or None if not defined yet."""
    config = config_path(dataset, variant)
    extra: list[str] = []
    if variant == TUNED:
        tuned = tuned_overrides()
        if tuned is None:
            return None
        extra = tuned
    elif variant == EQUAL_WALL:
        if equal_wall_factor is None:
            return None
        iterations = round(iterations * equal_wall_factor)
    d_steps = next((int(o.split("=")[1]) for o in extra if o.startswith("--model.init_args.d_steps=")), None)
    per_epoch = iterations_per_epoch(config, d_steps)
    overrides = [*extra, f"--trainer.max_epochs={-(-iterations // per_epoch)}"]
    digest = hashlib.sha256((config.read_text() + " ".join(overrides)).encode()).hexdigest()[:12]
    return config, overrides, per_epoch, digest


def equal_wall_factor(wall: dict[str, float], dataset: str) -> float | None:
    """GAN+MINE's wall time over MI-free (gan.yaml)'s on ``dataset`` (else on the grid), from the jobs' records."""
    for d in (dataset, "grid"):
        mine, free = wall.get(f"{d}/GAN+MINE (code)"), wall.get(f"{d}/MI-free (gan.yaml)")
        if mine and free:
            return mine / free
    return None


def reference_rows(dataset: str, seeds: list[int]) -> list[dict[str, Any]]:
    """Uniform noise over the data's bounding box and true samples, 2,500 points each, scored alike."""
    data = GaussianMixture(dataset)
    low, high = data.centers.min(0).values - 3 * data.std, data.centers.max(0).values + 3 * data.std
    rows = []
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        for name, points in (
            ("reference: uniform noise", low + (high - low) * torch.rand(2500, 2, generator=g)),
            ("reference: true samples", data.sample(2500, rng=g)),
        ):
            scores = {k: float(v) for k, v in mode_coverage(points, data.centers, data.std).items()}
            rows.append({"dataset": dataset, "variant": name, "seed": seed, "modes": int(scores["modes"]),
                         "num_modes": len(data.centers), "high_quality_pct": 100 * scores["high_quality"],
                         "kl": scores["kl"]})  # fmt: skip
    return rows


def summary(values: list[float], digits: int) -> str:
    """``mean ± standard error`` (PacGAN reports it); runs without a value are counted."""
    finite = [float(v) for v in values if not math.isnan(float(v))]
    missing = f" ({len(values) - len(finite)} nan)" if len(finite) < len(values) else ""
    if not finite:
        return "nan" + missing
    se = statistics.stdev(finite) / math.sqrt(len(finite)) if len(finite) > 1 else 0.0
    return f"{statistics.fmean(finite):.{digits}f} ± {se:.{digits}f}{missing}"


def paired(rows: list[dict[str, Any]], variant: str, baseline: str, metric: str, digits: int) -> str:
    def by_seed(name: str) -> dict[int, float]:
        return {r["seed"]: float(r[metric]) for r in rows if r["variant"] == name and not math.isnan(float(r[metric]))}

    base, other = by_seed(baseline), by_seed(variant)
    if len(set(base) & set(other)) < 2:
        return "—"
    mean, low, high, _ = paired_interval(base, other)
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def table(rows: list[dict[str, Any]], dataset: str) -> list[str]:
    sub = [r for r in rows if r["dataset"] == dataset]
    if not sub:
        return []
    names = [n for n in (*VARIANTS, "reference: true samples", "reference: uniform noise")
             if any(r["variant"] == n for r in sub)]  # fmt: skip
    lines = [
        f"## {dataset} ({sub[0]['num_modes']} modes); PacGAN Table 1: {PACGAN[dataset]}",
        "",
        "| variant | seeds | modes | min | HQ % | KL | HQ % at 5k / 10k / 30k | iters: all modes | iters: 90 % HQ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        rs = [r for r in sub if r["variant"] == name]
        trained = "hq_pct_5k" in rs[0]  # the reference rows have no training curve
        curve = " / ".join(summary([r[f"hq_pct_{k // 1000}k"] for r in rs], 1) for k in CURVE) if trained else "—"
        speed = [summary([r[k] for r in rs], 0) if trained else "—" for k in ("iters_all_modes", "iters_hq90")]
        lines.append(
            f"| {name} | {len(rs)} | {summary([r['modes'] for r in rs], 1)} | {min(r['modes'] for r in rs)} | "
            f"{summary([r['high_quality_pct'] for r in rs], 1)} | {summary([r['kl'] for r in rs], 4)} | "
            f"{curve} | {speed[0]} | {speed[1]} |"
        )
    present = [n for n in VARIANTS if any(r["variant"] == n for r in sub)]
    pairs = [(v, b) for v in present if v not in MI_FREE for b in present if b in MI_FREE]
    if pairs:
        lines += ["", "Paired difference (variant − MI-free variant), mean [95 % t-interval] over seeds; fewer "
                  "iterations are better, so a negative Δ iters favours the variant:", "",
                  "| variant − MI-free variant | Δ modes | Δ HQ % | Δ KL | Δ iters to 90 % HQ | Δ iters: all modes |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for name, base in pairs:
            lines.append(
                f"| {name} − {base} | {paired(sub, name, base, 'modes', 2)} | "
                f"{paired(sub, name, base, 'high_quality_pct', 1)} | {paired(sub, name, base, 'kl', 4)} | "
                f"{paired(sub, name, base, 'iters_hq90', 0)} | {paired(sub, name, base, 'iters_all_modes', 0)} |"
            )
    return lines + [""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--datasets", nargs="+", choices=list(FOLDERS), default=list(FOLDERS))
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--iterations", type=int, default=30_000, help="generator iterations per run")
    p.add_argument("--jobs", type=int, default=2, help="(dataset, variant) runs at once, one CPU thread each")
    p.add_argument("--resume", action="store_true", help="keep the CSV's finished jobs of the same configuration")
    p.add_argument("--report", action="store_true", help="write the tables from the CSV and meta; train nothing")
    p.add_argument("--equal-wall-factor", type=float, default=None,
                   help="equal-wall-time MI-free iterations over --iterations (default: measured)")  # fmt: skip
    p.add_argument("--out", type=Path, default=RESULTS / "mode_coverage", help="stem of the result files")
    args = p.parse_args()
    stem: Path = args.out
    stem.parent.mkdir(parents=True, exist_ok=True)
    csv_path, meta_path = stem.with_suffix(".csv"), Path(f"{stem}_meta.json")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    start = time.time()
    keep = args.resume or args.report
    previous = json.loads(meta_path.read_text()) if keep and meta_path.exists() else {}
    wall = {"/".join(ALIASES.get(part, part) for part in key.split("/", 1)): seconds
            for key, seconds in previous.get("job_wall_seconds", {}).items()}  # fmt: skip
    factors: dict[str, float] = dict(previous.get("equal_wall_factor", {}))
    known_jobs = dict(previous.get("jobs", {}))

    jobs: dict[tuple[str, str], tuple[Path, list[str], int, str]] = {}
    for dataset in args.datasets:
        measured = args.equal_wall_factor or factors.get(dataset) or equal_wall_factor(wall, dataset)
        for variant in args.variants:
            defined = job(dataset, variant, args.iterations, measured)
            if defined is None:
                why = ("the MI-free search of mode_coverage_tune.py is not complete" if variant == TUNED
                       else "no wall times of GAN+MINE (code) and MI-free (gan.yaml) to match")  # fmt: skip
                print(f"{dataset}/{variant}: not defined yet ({why}); skipped")
                continue
            jobs[(dataset, variant)] = defined
            if variant == EQUAL_WALL:
                factors[dataset] = measured
    rows: list[dict[str, Any]] = []
    if keep and csv_path.exists():
        with open(csv_path) as f:
            for r in csv.DictReader(f):
                r["variant"] = ALIASES.get(r["variant"], r["variant"])
                asked = jobs.get((r["dataset"], r["variant"]))
                # A job not asked for this time keeps its rows; an asked one keeps those of its configuration.
                current = asked is not None and r.get("config") == asked[3] and int(r["seed"]) in args.seeds
                if args.report or asked is None or current:
                    rows.append({k: (v if k in ("dataset", "variant", "config") else float(v)) for k, v in r.items()})
                    for count in ("seed", "modes", "num_modes"):
                        rows[-1][count] = int(rows[-1][count])
    done = {(r["dataset"], r["variant"]) for r in rows}

    def write(complete: bool) -> None:
        datasets = [d for d in FOLDERS if d in args.datasets or any(r["dataset"] == d for r in rows)]
        all_rows = rows + [r for d in datasets for r in reference_rows(d, args.seeds)]
        factor_note = "; ".join(f"{d}: {f:.3f}" for d, f in factors.items())
        text = [
            "# Mode coverage, PacGAN's 2-D protocol, through the experiments' YAML files (`mine-gan fit --seeds`)",
            "",
            f"Seeds {args.seeds}, {args.iterations} generator iterations (the equal-wall-time MI-free run: that "
            f"times {factor_note or 'its factor, not measured yet'}), 2,500 samples scored per run; mean ± "
            f"standard error over seeds, min over seeds. "
            + (
                f"Rows trained at commit {previous.get('commit', '?')[:7]}, tables written at {commit[:7]}. "
                if args.report
                else f"Commit {commit[:7]}. "
            )  # fmt: skip
            + ("Complete." if complete else "PARTIAL: jobs still to run."),
            "",
        ]
        for dataset in datasets:
            text += table(all_rows, dataset)
        text.append("Wall time per job (s): " + json.dumps({job: round(seconds) for job, seconds in wall.items()}))
        stem.with_suffix(".txt").write_text("\n".join(text) + "\n")
        fields = list(dict.fromkeys(k for r in rows for k in r))
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)  # the reference rows are recomputed, not stored
        this = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
        meta = {
            # A report trains nothing: the command that trained the rows stays, and the report's is added.
            "commit": previous.get("commit", commit) if args.report else commit,
            "command": previous.get("command", this) if args.report else this,
            **({"report": {"command": this, "commit": commit}} if args.report else {}),
            "seeds": args.seeds, "iterations": args.iterations, "complete": complete,
            "jobs": {**{ALIASES.get(k, k): v for k, v in known_jobs.items()},
                     **{f"{d}/{v}": {"config": str(c.relative_to(ROOT)), "overrides": o, "sha": h}
                        for (d, v), (c, o, _, h) in jobs.items()}},
            "equal_wall_factor": factors,
            "job_wall_seconds": wall, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }  # fmt: skip
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")

    def run(key: tuple[str, str]) -> None:
        dataset, variant = key
        config, overrides, per_epoch, digest = jobs[key]
        began = time.time()
        name = VARIANTS[variant].removesuffix(".yaml")
        per_seed = fit_seeds(config, args.seeds, RUNS / dataset / f"{name}_{digest}", overrides)
        num_modes = len(GaussianMixture(dataset).centers)
        for seed, metrics in per_seed.items():
            rows.append({"dataset": dataset, "variant": variant, "seed": seed,
                         **mode_coverage_row(metrics, per_epoch, num_modes), "config": digest})  # fmt: skip
        wall[f"{dataset}/{variant}"] = time.time() - began
        write(complete=False)
        print(f"{dataset} {variant}: done in {wall[f'{dataset}/{variant}'] / 60:.1f} min", flush=True)

    todo = [key for key in jobs if key not in done]
    complete = len(jobs) == len(args.datasets) * len(args.variants)
    if args.report:
        write(complete=complete and not todo)
        print(stem.with_suffix(".txt").read_text())
        return
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(run, key) for key in todo]:
            future.result()
    write(complete=complete)
    print(stem.with_suffix(".txt").read_text())
    print(f"wall time {(time.time() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
