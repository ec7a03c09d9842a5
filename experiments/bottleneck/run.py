"""MINE paper, §5.3 table: permutation-invariant classification, deterministic baseline vs MINE-IB.

Each row of the table is one encoder trained on cross-entropy + β·I(X; Z) (``InformationBottleneck``) over
several seeds; the baseline is the same network with β = 0 and no noise. Reported per row: test error
(mean ± std over seeds) and I(X; Z), estimated independently of the model's own critic: a fresh
``estimate_mi`` critic is fitted on training-set pairs (x, z ~ enc(x)) and its bound evaluated on the
test-set pairs (``heldout_estimate``). The model's own critic, which the encoder was trained against, is
reported beside it for comparison (it is biased low for MINE-IB, by construction).

    python experiments/bottleneck/run.py                      # CPU scale: scikit-learn digits, seeds 0-7, 2 processes
    python experiments/bottleneck/run.py --seeds 0 1 2        # fewer seeds
    python experiments/bottleneck/run.py --scale mnist --workers 1   # paper scale (GPU; MNIST files under data/)

The model, data and trainer of each scale are in ``configs/<scale>.yaml`` (LightningCLI format); the rows
(β, noise) are ``VARIANTS`` below.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import logging
import multiprocessing
import platform
import statistics
import sys
import textwrap
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import paired_interval, write_meta  # noqa: E402

from mine_gan import estimate_mi
from mine_gan.estimators import ConcatCritic, heldout_estimate
from mine_gan.models import InformationBottleneck

HERE = Path(__file__).parent
RESULTS = HERE / "results"

# Rows of the table per scale: name -> InformationBottleneck arguments overriding the config's model.
# Digits: β and noise chosen by tune.py on mean validation accuracy over seeds 100-104 (results/tuning_digits.md);
# the table's seeds are others. MNIST: not tuned here (no GPU in this session); β = 1e-3 is deep VIB's best
# value on the same network.
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "digits": {
        "deterministic (β=0)": {"encoder": "gaussian", "mi_weight": 0.0},
        # Ablation: the additive row's noise without the MI term, to separate the two.
        "additive noise only (β=0)": {"encoder": "additive", "mi_weight": 0.0, "noise_std": 0.1, "stochastic": True},
        "MINE-IB Gaussian": {"encoder": "gaussian", "mi_weight": 1e-2},
        "MINE-IB additive noise": {"encoder": "additive", "mi_weight": 1e-2, "noise_std": 0.1},
        "MINE-IB propagated noise": {"encoder": "propagated", "mi_weight": 1e-2, "noise_std": 0.5},
    },
    "mnist": {
        "deterministic (β=0)": {"encoder": "gaussian", "mi_weight": 0.0},
        "MINE-IB Gaussian": {"encoder": "gaussian", "mi_weight": 1e-3},
        "MINE-IB additive noise": {"encoder": "additive", "mi_weight": 1e-3, "noise_std": 0.5},
        "MINE-IB propagated noise": {"encoder": "propagated", "mi_weight": 1e-3, "noise_std": 1.0},
    },
}
# The independent estimator: same for every row.
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


def run_one(config: dict, variant: dict[str, Any], seed: int) -> dict[str, float]:
    pl.seed_everything(seed, verbose=False)
    model_spec = {**config["model"], "init_args": {**config["model"]["init_args"], **variant}}
    model = instantiate(model_spec)
    datamodule = instantiate(config["data"])
    trainer = pl.Trainer(
        **config["trainer"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule)
    fitted = {k: float(v) for k, v in trainer.callback_metrics.items()}
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
        "test_error": 100.0 * test["test/error"],
        "val_acc": fitted["val/acc"],
        "mi_test": mi,
        "mi_test_stderr": mi_stderr,
        "mi_own_critic": own,
        "train_mi": fitted["train/mi"],
        "fit_seconds": seconds,
    }


def run_job(config: dict, name: str, variant: dict[str, Any], seed: int) -> dict[str, Any]:
    """One row of the CSV; runs in a worker process, hence its own quiet, one-thread set-up."""
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    if config["trainer"].get("accelerator", "cpu") == "cpu":
        torch.set_num_threads(1)  # small MLPs: one thread is as fast and does not fight for a shared machine
    return {"variant": name, "seed": seed, **run_one(config, variant, seed)}


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.2f} ± {std:.2f}"


def table(rows: list[dict], names: list[str]) -> str:
    lines = [
        "| model | test error % | I(X; Z) nats, independent | I(X; Z) nats, model's critic | val acc | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        mine = [r for r in rows if r["variant"] == name]
        if not mine:
            continue
        cols = [mean_std([r[k] for r in mine]) for k in ("test_error", "mi_test", "mi_own_critic")]
        val = statistics.fmean(r["val_acc"] for r in mine)
        lines.append(f"| {name} | {cols[0]} | {cols[1]} | {cols[2]} | {val:.3f} | {len(mine)} |")
    return "\n".join(lines)


def paired_table(rows: list[dict], names: list[str]) -> str:
    """Each row against the baseline (first name) on the same seeds: seed noise mostly cancels in a pair."""

    def by_seed(name: str, key: str) -> dict[int, float]:
        return {r["seed"]: r[key] for r in rows if r["variant"] == name}

    def cell(name: str, key: str) -> str:
        mean, low, high, _ = paired_interval(by_seed(names[0], key), by_seed(name, key))
        return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"

    lines = [
        f"| model − {names[0]} (same seed) | Δ test error, points [95 % t-interval] | Δ I(X; Z), nats [95 %] "
        "| seeds with error ≤ baseline |",
        "|---|---|---|---|",
    ]
    for name in names[1:]:
        errors, baseline = by_seed(name, "test_error"), by_seed(names[0], "test_error")
        common = sorted(set(errors) & set(baseline))
        if not common:
            continue
        wins = sum(errors[s] <= baseline[s] for s in common)
        lines.append(f"| {name} | {cell(name, 'test_error')} | {cell(name, 'mi_test')} | {wins}/{len(common)} |")
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
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            ax.errorbar(i, statistics.fmean(values), yerr=std, fmt="_", color="k", markersize=20, capsize=4)
        ax.set_xticks(range(len(names)), [textwrap.fill(n, 12, break_long_words=False) for n in names], fontsize=8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_title("independent estimate_mi, test pairs", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel, one process each")
    args = parser.parse_args()
    config = yaml.safe_load((HERE / "configs" / f"{args.scale}.yaml").read_text())

    start = time.perf_counter()
    variants = VARIANTS[args.scale]
    jobs = [(name, variant, seed) for name, variant in variants.items() for seed in args.seeds]
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_job, config, name, variant, seed) for name, variant, seed in jobs]
        rows = []
        for future in futures:
            row = future.result()
            rows.append(row)
            print(
                f"{row['variant']:26s} seed={row['seed']} error={row['test_error']:.2f}% I={row['mi_test']:.3f}±"
                f"{row['mi_test_stderr']:.3f} own={row['mi_own_critic']:.3f} ({row['fit_seconds']:.0f}s)",
                flush=True,
            )
    wall = time.perf_counter() - start

    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{args.scale}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    markdown = table(rows, list(variants)) + "\n\n" + paired_table(rows, list(variants))
    threads = ", 1 torch thread each" if config["trainer"].get("accelerator", "cpu") == "cpu" else ""
    note = (
        f"\n\n{args.scale}, seeds {args.seeds}, {wall / 60:.1f} min on {platform.machine()} "
        f"({args.workers} worker process(es){threads}). I(X; Z) independent: a fresh estimate_mi critic "
        f"(ConcatCritic 256-256, {ESTIMATE_STEPS} steps) fitted on training pairs, evaluated on test pairs.\n"
    )
    (RESULTS / f"{args.scale}.md").write_text(markdown + note)
    plot(rows, list(variants), RESULTS / f"{args.scale}.png")
    resolved = {
        "config": config,
        "variants": variants,
        "estimate_steps": ESTIMATE_STEPS,
        "estimate_batch": ESTIMATE_BATCH,
    }
    write_meta(RESULTS, args.scale, wall, seeds=args.seeds, config=resolved)
    print("\n" + markdown + note)


if __name__ == "__main__":
    main()
