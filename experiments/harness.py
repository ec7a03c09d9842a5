"""What every experiment script shares: models from the CLI's YAML configs, a quiet trainer, result files,
provenance, and paired comparisons over seeds.

Scripts build model and data with ``mine_gan.cli.cli(..., run=False)`` from the same YAML files ``mine-gan fit``
uses, so the hyperparameters live in one place; only seeds and the scale (iterations, seeds, samples) are
script flags. Each run of a script at a scale writes ``<name>_<scale>.csv``, ``<name>_<scale>.md``, PNGs and
``meta_<scale>.json`` (:func:`write_meta`: command, commit, config hash, seeds, wall time, machine) into its
results folder, which ``experiments/make_results.py`` collects into ``experiments/RESULTS.md``, marking tables
made before the last change to the code they depend on (:data:`DEPENDS_ON`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the training helpers need them; make_results.py imports this module without torch
    import pytorch_lightning as pl

EXPERIMENTS = Path(__file__).resolve().parent
REPOSITORY = EXPERIMENTS.parent

# Files (git pathspecs from the repository root) shared by whole families of experiments.
_ESTIMATION = ("mine_gan/functional", "mine_gan/estimators", "mine_gan/layers.py", "mine_gan/validation.py")
_GAN = (
    *_ESTIMATION,
    "mine_gan/cli.py",
    "mine_gan/models/gan.py",
    "mine_gan/nets/heads.py",
    "mine_gan/nets/codes.py",
    "mine_gan/nets/losses.py",
    "mine_gan/nets/mlp.py",
    "mine_gan/optim",
    "mine_gan/seeding.py",
)
_DIGITS = (
    "mine_gan/data/digits.py",
    "mine_gan/data/mnist5k.py",
    "mine_gan/data/images.py",
    "mine_gan/metrics/digit_classifier.py",
)

#: The parts of ``mine_gan/`` each experiment's numbers depend on, besides its own folder's scripts and configs
#: (:func:`dependency_paths`). A table whose recorded commit predates the last commit touching any of them was
#: made by other code than the repository's: ``make_results.py`` marks it stale.
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "gaussian_mi": (*_ESTIMATION, "mine_gan/data/correlated_gaussians.py"),
    "equitability": _ESTIMATION,
    "mode_dropping": (
        *_GAN,
        "mine_gan/models/seeds.py",
        "mine_gan/nets/stack.py",
        "experiments/gaussians25",
        "experiments/ring8",
        "mine_gan/models/infogan.py",
        "mine_gan/data/mixtures.py",
        "mine_gan/data/sampled.py",
        "mine_gan/metrics/mode_coverage.py",
        "mine_gan/metrics/functional/modes.py",
    ),
    "stacked_digits": (
        *_GAN,
        *_DIGITS,
        "mine_gan/models/infogan.py",
        "mine_gan/nets/dcgan.py",
        "mine_gan/metrics/stacked_mode_coverage.py",
        "mine_gan/metrics/functional",
    ),
    "bigan_digits": (*_GAN, *_DIGITS, "mine_gan/models/bigan.py", "mine_gan/nets/dcgan.py"),
    "bottleneck": (
        *_ESTIMATION,
        "mine_gan/models/information_bottleneck.py",
        "mine_gan/data/mnist5k.py",
        "mine_gan/data/images.py",
        "mine_gan/data/mnist.py",
        "mine_gan/seeding.py",
    ),
}

_RESOLVED_CONFIGS: dict[str, Any] = {}  # config label -> resolved config, filled by from_config for write_meta


def dependency_paths(experiment: str) -> list[str]:
    """Pathspecs of everything ``experiment``'s numbers depend on: :data:`DEPENDS_ON` plus its own scripts and
    configs (not its results or notes)."""
    if experiment not in DEPENDS_ON:
        raise KeyError(f"experiment {experiment!r} declares no dependencies; add it to harness.DEPENDS_ON")
    own = [f"experiments/{experiment}/{pattern}" for pattern in ("*.py", "*.yaml", "configs")]
    return [*DEPENDS_ON[experiment], *own]


def git(*args: str) -> str:
    """Output of ``git args`` in the repository ('' when git or the repository is unavailable)."""
    try:
        done = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.rstrip()  # not strip(): `git status --porcelain` lines start with a status column


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def from_config(
    config: Path, seed: int, overrides: Sequence[str] = ()
) -> tuple[pl.LightningModule, pl.LightningDataModule]:
    """Model and data module of a ``mine-gan`` YAML config, seeded, without its logger and callbacks.

    The resolved configuration (every default filled in, the seed left out) is kept for :func:`write_meta`.
    """
    from mine_gan.cli import cli

    args = [
        "--config",
        str(config),
        "--trainer.logger=false",
        "--trainer.callbacks=[]",
        "--trainer.enable_checkpointing=false",
        f"--seed_everything={seed}",
        f"--data.init_args.seed={seed}",
        *overrides,
    ]
    built = cli(args, run=False)
    resolved = json.loads(built.parser.dump(built.config, format="json"))
    # The seeds go to the meta file's own field, so that every seed of one config hashes alike; the trainer
    # section goes because fit() builds its own trainer from the script's scale.
    resolved.pop("seed_everything", None)
    resolved.pop("trainer", None)
    if not any(o.startswith("--data.init_args.seed=") for o in overrides):
        resolved.get("data", {}).get("init_args", {})["seed"] = "<seed>"
    label = os.path.relpath(Path(config).resolve(), REPOSITORY) + "".join(f" {o}" for o in overrides)
    _RESOLVED_CONFIGS.setdefault(label, resolved)
    if _RESOLVED_CONFIGS[label] != resolved:
        raise RuntimeError(f"{label} resolved differently for seed {seed} than for an earlier seed")
    return built.model, built.datamodule


def fit(model: pl.LightningModule, data: pl.LightningDataModule, epochs: int = 1, accelerator: str = "cpu") -> float:
    """Train without logging, checkpoints or validation; returns the wall time in seconds."""
    import pytorch_lightning as pl

    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(model, data)
    return time.perf_counter() - start


def _fit_command(
    config: Path, run_dir: Path, selection: Sequence[str], overrides: Sequence[str], threads: int
) -> list[str]:
    """``mine-gan fit`` of ``config`` logging to CSV in ``<run_dir>/run``, resumed from its ``last.ckpt`` if any."""
    last = sorted(Path(run_dir).rglob("last.ckpt"))
    return [
        sys.executable, "-m", "mine_gan", "fit", "--config", str(config), *selection,
        f"--torch_threads={threads}", "--trainer.enable_progress_bar=false", "--trainer.logger=CSVLogger",
        f"--trainer.logger.init_args.save_dir={Path(run_dir).parent}",
        f"--trainer.logger.init_args.name={Path(run_dir).name}", "--trainer.logger.init_args.version=run",
        *overrides, *([f"--ckpt_path={last[-1]}"] if last else []),
    ]  # fmt: skip


def _run_fit(args: list[str]) -> None:
    done = subprocess.run(args, cwd=REPOSITORY, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")


def _metrics_rows(path: Path) -> list[dict[str, float]]:
    with open(path) as f:
        return [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)]


def fit_seeds(
    config: Path, seeds: Sequence[int], run_dir: Path, overrides: Sequence[str] = (), *, threads: int = 1
) -> dict[int, list[dict[str, float]]]:
    """``mine-gan fit --config <config> --seeds <seeds>`` in a subprocess; each seed's logged rows.

    The seeds train as one batched model running the module's own step, exactly what the YAML gives a user.
    The run logs to CSV under ``run_dir`` (W&B is for people, not for tables) and keeps the YAML's callbacks
    (checkpoints, pictures, the final mode histogram). A run interrupted earlier resumes from its
    ``last.ckpt``, so a study can stop at any time and continue.

    Returns:
        ``{seed: rows of <run dir>/seed_<seed>/metrics.csv}``, each row ``{column: float}`` without blanks.
    """
    run_dir = Path(run_dir)
    _run_fit(_fit_command(config, run_dir, ["--seeds", ",".join(map(str, seeds))], overrides, threads))
    return {int(seed): _metrics_rows(run_dir / "run" / f"seed_{seed}" / "metrics.csv") for seed in seeds}


def fit_run(
    config: Path, seed: int, run_dir: Path, overrides: Sequence[str] = (), *, threads: int = 1
) -> list[dict[str, float]]:
    """``mine-gan fit --config <config> --seed_everything=<seed>`` in a subprocess: one seed, as a user runs it.

    As :func:`fit_seeds` (CSV log in ``<run_dir>/run``, resumed from its ``last.ckpt``), for one seed in a
    process of its own: for a study whose rows finish one (variant, seed) at a time, or whose per-run wall time
    is a result. Its checkpoints are in ``<run_dir>/run/checkpoints``.

    Returns:
        The rows of ``<run_dir>/run/metrics.csv``, each ``{column: float}`` without blanks (none when the run
        logged nothing, e.g. fewer steps than ``log_every_n_steps``).
    """
    run_dir = Path(run_dir)
    _run_fit(_fit_command(config, run_dir, [f"--seed_everything={seed}"], overrides, threads))
    logged = run_dir / "run" / "metrics.csv"
    return _metrics_rows(logged) if logged.exists() else []


#: iterations at which 2-D learning curves are reported (:func:`mode_coverage_row`)
CURVE = (5_000, 10_000, 30_000)


def iterations_per_epoch(config: Path, d_steps: int | None = None) -> int:
    """Generator iterations per epoch: the data's batches per epoch over ``d_steps`` (the YAML's unless given)."""
    loaded = yaml.safe_load(config.read_text())
    data, model = loaded["data"]["init_args"], loaded["model"]["init_args"]
    steps = int(model.get("d_steps", 1)) if d_steps is None else d_steps
    return int(data["num_samples"]) // int(data["batch_size"]) // steps


def mode_coverage_row(rows: list[dict[str, float]], per_epoch: int, num_modes: int) -> dict[str, Any]:
    """PacGAN's 2-D figures of one seed from its ``metrics.csv`` rows: final (``final/*``) and curve (``val/*``)."""
    final = next(r for r in reversed(rows) if "final/modes" in r)
    curve = [(int(r["epoch"] + 1) * per_epoch, r) for r in rows if "val/modes" in r]
    row: dict[str, Any] = {
        "modes": int(final["final/modes"]),
        "num_modes": num_modes,
        "high_quality_pct": 100.0 * final["final/high_quality"],
        "kl": final.get("final/kl", math.nan),
        "iterations": curve[-1][0] if curve else math.nan,
    }
    for at in CURVE:
        point = next((r for it, r in curve if it >= at), None)
        row[f"hq_pct_{at // 1000}k"] = math.nan if point is None else 100.0 * point["val/high_quality"]
        row[f"modes_{at // 1000}k"] = math.nan if point is None else point["val/modes"]
        row[f"kl_{at // 1000}k"] = math.nan if point is None else point.get("val/kl", math.nan)
    # Iterations to keep every mode: the first check from which every later check has all modes.
    kept = math.nan
    for it, r in reversed(curve):
        if r["val/modes"] < num_modes:
            break
        kept = it
    row["iters_all_modes"] = kept
    row["iters_hq90"] = next((it for it, r in curve if r["val/high_quality"] >= 0.9), math.nan)
    return row


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} thread(s)/run), load average {load:.1f} at the end (shared machine)"
    )


def write_results(
    out: Path,
    name: str,
    rows: list[dict[str, Any]],
    table: str,
    scale: str,
    wall: float,
    *,
    seeds: Sequence[int] | None = None,
    config: Mapping[str, Any] | None = None,
) -> None:
    """``<name>_<scale>.csv`` (one row per run), ``<name>_<scale>.md`` (the summary table), ``meta_<scale>.json``.

    ``seeds`` default to the rows' ``seed`` column; ``config`` as in :func:`write_meta`.
    """
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}_{scale}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / f"{name}_{scale}.md").write_text(table.rstrip() + "\n")
    if seeds is None:
        seeds = sorted({int(r["seed"]) for r in rows if "seed" in r})
    write_meta(out, scale, wall, seeds=seeds, config=config)


def config_hash(config: Any) -> str:
    """SHA-256 of ``config`` as canonical JSON (sorted keys; paths and other objects as strings)."""
    text = json.dumps(config, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def provenance(experiment: str) -> dict[str, Any]:
    """The commit checked out now, and the files of ``experiment``'s dependencies that differ from it, each with
    the git blob hash of its content (``None`` when deleted), so the code that ran can be compared with any
    later commit."""
    commit = git("rev-parse", "HEAD") or None
    changed = git("status", "--porcelain", "--", *dependency_paths(experiment)).splitlines()
    # Porcelain lines are "XY path" or "XY old -> new" for renames.
    paths = sorted(line[3:].split(" -> ")[-1] for line in changed)
    return {
        "commit": commit,
        "uncommitted": {p: (git("hash-object", p) or None) if (REPOSITORY / p).is_file() else None for p in paths},
    }


def _script_experiment() -> str:
    return Path(sys.argv[0]).resolve().parent.name


# The code a script runs is the code at its start: the commit may move, and files change, while it trains.
_AT_START = provenance(_script_experiment()) if _script_experiment() in DEPENDS_ON else None


def write_meta(
    out: Path,
    scale: str,
    wall: float,
    *,
    seeds: Sequence[int] | None = None,
    config: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """``meta_<scale>.json``: what made ``out``'s ``*_<scale>`` files, so a table can be trusted or marked stale.

    Records the command line, the experiment (the folder of the script), the commit and any uncommitted changes
    to the experiment's dependencies when the script started (:func:`provenance`; ``commit_at_end`` too when
    HEAD moved during the run), the SHA-256 of the resolved configuration, the seeds, the wall time and the
    machine.

    Args:
        out: results folder.
        scale: the files' suffix.
        wall: seconds the whole run took.
        seeds: the seeds run.
        config: the resolved configuration of a script that does not build its models with :func:`from_config`
            (e.g. its parsed arguments without the seeds); by default every config :func:`from_config` resolved.
        extra: further fields of the file, e.g. whether a resumable study is complete.
    """
    script = Path(sys.argv[0]).resolve()
    experiment = _script_experiment()
    if _AT_START is None:
        raise RuntimeError(f"{script} is not in an experiment folder of harness.DEPENDS_ON; declare its dependencies")
    head_now = git("rev-parse", "HEAD") or None
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(script, REPOSITORY), *sys.argv[1:]])
    resolved = dict(config) if config is not None else dict(_RESOLVED_CONFIGS)
    meta = {
        "command": command,
        "experiment": experiment,
        "scale": scale,
        **_AT_START,
        **({"commit_at_end": head_now} if head_now != _AT_START["commit"] else {}),
        "config_sha256": config_hash(resolved) if resolved else None,
        "config": resolved,
        "seeds": list(seeds) if seeds is not None else None,
        "wall_seconds": round(wall, 1),
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        **(extra or {}),
    }
    (out / f"meta_{scale}.json").write_text(json.dumps(meta, indent=2, default=str, ensure_ascii=False) + "\n")


def mean_std(values: Sequence[float]) -> str:
    """``mean ± sample std`` (3 and 2 significant digits); the value alone for one run."""
    if len(values) == 1:
        return f"{float(values[0]):.3g}"
    return f"{statistics.fmean(values):.3g} ± {statistics.stdev(values):.2g}"


def paired_interval(
    a: Mapping[int, float], b: Mapping[int, float], confidence: float = 0.95
) -> tuple[float, float, float, int]:
    r"""Mean of ``b − a`` over the seeds both ran, with its Student-t confidence interval.

    .. math:: \bar d \pm t_{n-1,\,(1+c)/2}\; s_d / \sqrt{n}, \qquad d_s = b_s - a_s

    Pairing by seed cancels what the two variants share within a seed (data order, initial draws), so the
    interval is the honest test of "b differs from a" with few seeds.

    Args:
        a, b: ``{seed: value}`` of the baseline and of the variant.
        confidence: coverage of the interval.

    Returns:
        ``(mean difference, low, high, number of pairs)``; the bounds are ``nan`` for fewer than two pairs.

    Example:
        >>> d, lo, hi, n = paired_interval({0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.5, 1: 2.4, 2: 3.6})
        >>> round(d, 3), round(lo, 3), round(hi, 3), n
        (0.5, 0.252, 0.748, 3)
    """
    from scipy.stats import t

    seeds = sorted(set(a) & set(b))
    diffs = [b[s] - a[s] for s in seeds]
    if not diffs:
        raise ValueError("no seed was run by both variants: nothing to pair")
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, math.nan, math.nan, len(diffs)
    half = float(t.ppf((1 + confidence) / 2, len(diffs) - 1)) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean, mean - half, mean + half, len(diffs)


def paired_comparison(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    higher_is_better: bool,
    baseline: str,
    variant: str,
    *,
    group: str = "variant",
) -> str:
    """One sentence comparing ``variant`` to ``baseline`` on ``metric``, paired over seeds (:func:`paired_interval`).

    It says "no difference" when the 95 % interval contains zero, otherwise which side is better; it also
    counts the seeds on which the variant is better.

    Example:
        >>> rows = [{"variant": v, "seed": s, "err": e} for v, s, e in
        ...         [("A", 0, 1.0), ("A", 1, 2.0), ("B", 0, 1.1), ("B", 1, 1.8)]]
        >>> paired_comparison(rows, "err", False, "A", "B")
        'err, B − A: -0.05, 95 % t-interval [-1.96, 1.86] over 2 paired seeds: no difference (B better on 1/2 seeds).'
    """

    def by_seed(name: str) -> dict[int, float]:
        return {int(r["seed"]): float(r[metric]) for r in rows if r[group] == name}

    a, b = by_seed(baseline), by_seed(variant)
    mean, low, high, n = paired_interval(a, b)
    wins = sum((b[s] > a[s]) if higher_is_better else (b[s] < a[s]) for s in set(a) & set(b))
    if n < 2:
        return f"{metric}, {variant} − {baseline}: {mean:.3g} on one seed: no interval from one pair."
    verdict = (
        "no difference" if low <= 0 <= high else f"{variant if (mean > 0) == higher_is_better else baseline} better"
    )
    return (
        f"{metric}, {variant} − {baseline}: {mean:.3g}, 95 % t-interval [{low:.3g}, {high:.3g}] over {n} paired "
        f"seeds: {verdict} ({variant} better on {wins}/{n} seeds)."
    )


class StudyRows:
    """The CSV of a resumable study: one row per finished job, written as it finishes, kept by a rerun.

    A job is a ``(variant, seed)`` pair trained with a configuration summarised by a digest (e.g. 12 hex digits
    of :func:`config_hash` of its config file and overrides), stored in the row's ``config`` column. A rerun
    reads the file back: :meth:`done` hands back the row of a job whose digest is unchanged, so the job is not
    run again; a job whose configuration changed is run and its new row replaces the old one. Rows of jobs a
    rerun does not ask for stay in the file. The file is rewritten whole, through a temporary file, at every
    :meth:`add`, so a study stopped at any moment leaves a readable CSV of the jobs finished. Thread-safe, so
    jobs may finish in worker threads.

    Args:
        path: the CSV file.
        key: the columns naming a job.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "rows.csv"
        >>> StudyRows(path).add({"variant": "GAN", "seed": 0, "modes": 512, "config": "abc"})
        >>> again = StudyRows(path)
        >>> again.done("GAN", 0, config="abc")["modes"], again.done("GAN", 0, config="changed")
        (512, None)
    """

    def __init__(self, path: Path, key: Sequence[str] = ("variant", "seed")) -> None:
        import threading

        self.path, self.key = Path(path), tuple(key)
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, ...], dict[str, Any]] = {}
        if self.path.exists():
            with open(self.path) as f:
                for row in csv.DictReader(f):
                    self._rows[self._key(row)] = {k: _cell(v) for k, v in row.items()}

    def _key(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(str(row[k]) for k in self.key)

    def done(self, *key: Any, config: str) -> dict[str, Any] | None:
        """The row of job ``key`` if it finished with configuration digest ``config``, else ``None``."""
        row = self._rows.get(tuple(str(k) for k in key))
        return dict(row) if row is not None and str(row.get("config")) == config else None

    def add(self, row: Mapping[str, Any]) -> None:
        """Store a finished job's row (replacing an older row of the same job) and rewrite the file."""
        with self._lock:
            self._rows[self._key(row)] = dict(row)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            rows = list(self._rows.values())
            temporary = self.path.with_name(self.path.name + ".tmp")
            with open(temporary, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
                writer.writeheader()
                writer.writerows(rows)
            temporary.replace(self.path)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row in the file, in the order the jobs first finished."""
        return [dict(r) for r in self._rows.values()]


def _cell(value: str) -> Any:
    """A CSV cell back as a number where it is one (``seed`` as an int), else as the text."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
