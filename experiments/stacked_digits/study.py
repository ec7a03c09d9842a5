"""Stacked MNIST in the collapse regime (issue 25): GAN against GAN+MINE over paired seeds, with the learning curve
and a plain GAN given GAN+MINE's wall time. Resumable.

Every run is ``mine-gan fit --config <yaml> --seed_everything=<seed>`` of a YAML next to this script, one seed per
process (:func:`harness.fit_run`), as a user runs it:

* ``GAN``: ``gan_small_d.yaml``, the shipped nets with the smaller discriminator in which a plain GAN drops modes;
* ``GAN+MINE``: ``gan_mine_small_d.yaml``, the same with β·I(G([ε, c]); c) and eq. 21's clip (or the setting
  ``tune.py`` chose, with ``--tuned``);
* ``GAN (GAN+MINE's wall time)``: the plain GAN trained for as long as GAN+MINE took, at equal wall time rather
  than equal iterations: ``iterations = mean GAN+MINE training seconds / mean GAN seconds per iteration`` over the
  seeds, both measured by this script (Lightning's ``Timer``, stored in the checkpoints: the fit loop, its
  per-epoch validation included, without the process's start-up or the scoring), rounded to whole epochs. Each
  seed continues its own ``GAN`` run from that run's last checkpoint (training resumes exactly where it stopped,
  so this is the run ``--trainer.max_epochs=<that many epochs>`` gives, without paying the first iterations
  twice); without that checkpoint it trains from scratch.

The study adds to the YAML's callbacks only what measures: a checkpoint at every epoch's end (the YAMLs' epoch is
1,000 iterations) and Lightning's ``Timer``; the YAML's ``ModeHistogram`` is left out because this script scores
every point itself. After a run, the checkpoints at the learning curve's iterations (``--curve``, 2k, 5k, 10k) and
the last are scored as ``run.py`` scores: ``--eval-samples`` generated stacks (26,000, the protocol's count; the same
at every point, since the mode count depends on it), each channel classified by the project's digit classifier
(``reference.new_metric``): modes of 1,000, KL to uniform, % of channels labelled with p ≥ 0.9 and the Fréchet
distance to the training digits. Scoring 26,000 stacks took 108 s wall (about 35 s of CPU) on a 2-core machine at a
load average of 10, 4 points a run; the other epochs' checkpoints are deleted once scored.

The ``real`` and ``noise`` reference rows (``reference.py``) are scored the same way into the same CSV. Paired
differences GAN+MINE − GAN (and − the equal-wall GAN) per metric, over the seeds both finished, come with a 95 %
Student-t interval (:func:`harness.paired_interval`).

Resumable: each (variant, seed) row is written to the CSV when it finishes (:class:`harness.StudyRows`); a rerun
skips rows of the same configuration digest (YAML content, overrides, length, curve, evaluation samples), and a run
interrupted mid-way resumes from its ``last.ckpt`` under ``runs/stacked_digits_study/``. The meta file says whether
the study is complete.

    python experiments/stacked_digits/study.py                      # seeds 0-4, 20,000 iterations, 2 jobs at once
    python experiments/stacked_digits/study.py --tuned experiments/stacked_digits/results/tuning/tune_collapse.json
    python experiments/stacked_digits/study.py --estimate 300       # time 300 batches of each YAML, print the cost

Writes ``results/stacked_digits_collapse.{csv,md}``, ``results/samples_collapse.png``, ``results/meta_collapse.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import REPOSITORY, StudyRows, config_hash, fit_run, mean_std, paired_interval, quiet, write_meta  # noqa: E402
from reference import held_out_stacks, new_metric, reference_rows, scores  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RUNS = REPOSITORY / "runs" / "stacked_digits_study"
GAN, MINE, EQUAL_WALL = "GAN", "GAN+MINE", "GAN (GAN+MINE's wall time)"
CONFIGS = {GAN: HERE / "gan_small_d.yaml", MINE: HERE / "gan_mine_small_d.yaml"}
CURVE = (2_000, 5_000, 10_000)
ITERATIONS = 20_000
EVAL_SAMPLES = 26_000
#: the table's metrics, True where higher is better
METRICS = {"modes": True, "kl": False, "confident_pct": True, "frechet": False}
REFERENCE_SEED = 0


# ----------------------------------------------------------------------------------------------- one run
def per_epoch(config: Path, overrides: Sequence[str] = ()) -> int:
    """Generator iterations per epoch of ``config`` under ``overrides``: batches per epoch over ``d_steps``."""
    loaded = yaml.safe_load(Path(config).read_text())
    values = {
        "data.init_args.num_samples": loaded["data"]["init_args"]["num_samples"],
        "data.init_args.batch_size": loaded["data"]["init_args"]["batch_size"],
        "model.init_args.d_steps": loaded["model"]["init_args"].get("d_steps", 1),
    }
    for override in overrides:
        key, _, value = override.removeprefix("--").partition("=")
        if key in values:
            values[key] = value
    batches = int(values["data.init_args.num_samples"]) // int(values["data.init_args.batch_size"])
    return batches // int(values["model.init_args.d_steps"])


def study_callbacks(config: Path) -> str:
    """``--trainer.callbacks=<JSON>``: the YAML's callbacks with a checkpoint kept at every epoch's end, Lightning's
    ``Timer``, and without ``ModeHistogram`` (the study scores the checkpoints itself)."""
    callbacks = []
    for callback in yaml.safe_load(Path(config).read_text())["trainer"].get("callbacks", []):
        name = callback["class_path"].rsplit(".", 1)[-1]
        if name == "ModeHistogram":
            continue
        if name == "ModelCheckpoint":
            keep_every_epoch = {"save_last": True, "save_top_k": -1, "every_n_epochs": 1, "filename": "{epoch}"}
            callback = {"class_path": callback["class_path"], "init_args": keep_every_epoch}
        callbacks.append(callback)
    # `interval` given as text: its default is an enum the CLI cannot write into the run's config.yaml.
    callbacks.append({"class_path": "pytorch_lightning.callbacks.Timer", "init_args": {"interval": "step"}})
    return "--trainer.callbacks=" + json.dumps(callbacks)


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "run" / "checkpoints"


def training_seconds(checkpoint: Path) -> float:
    """Seconds of training steps up to ``checkpoint`` (its ``Timer`` state, summed over resumed sittings)."""
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    return float(saved["callbacks"]["Timer"]["time_elapsed"]["train"])


def load_generator(checkpoint: Path):
    from mine_gan.models import InfoGAN

    return InfoGAN.load_from_checkpoint(checkpoint, map_location="cpu")


def score_checkpoint(checkpoint: Path, seed: int, eval_samples: int, metric: Any = None) -> dict[str, Any]:
    """``run.py``'s figures of the generator in ``checkpoint``: ``eval_samples`` stacks from a stream of ``seed``.

    ``metric``: a ``reference.new_metric`` to reuse (reset here), which saves building the classifier and the
    training digits' features at every point of a curve.
    """
    import torch

    model = load_generator(checkpoint)
    if metric is None:
        metric = new_metric(model.x_shape[-1])
    metric.reset()
    rng = torch.Generator().manual_seed(10_000 + seed)
    for start in range(0, eval_samples, 1000):
        metric.update(model.sample(min(1000, eval_samples - start), rng))
    return {"image_size": model.x_shape[-1], **{k: v for k, v in scores(metric).items() if k != "classifier_accuracy"}}


def train_row(
    variant: str,
    config: Path,
    seed: int,
    run_dir: Path,
    overrides: Sequence[str],
    iterations: int,
    curve: Sequence[int],
    eval_samples: int,
    threads: int = 1,
    start_from: Path | None = None,
) -> dict[str, Any]:
    """Train one (variant, seed) to ``iterations`` and score it at ``curve`` and at the end: one CSV row.

    ``start_from``: a checkpoint to continue from when ``run_dir`` has none (the equal-wall variant continues the
    GAN's run). Columns: the final ``modes, kl, confident_pct, frechet``, the same with ``_<k>k`` at each curve
    point, ``train_seconds`` (the fit loop's, from its ``Timer``), ``seconds_per_iteration`` and ``score_seconds``.
    """
    epoch = per_epoch(config, overrides)
    points = [*curve, iterations]
    if any(it % epoch for it in points):
        raise ValueError(f"the curve {list(curve)} and length {iterations} must be whole epochs of {epoch} iterations")
    checkpoints = checkpoint_dir(run_dir)
    resume = []
    if start_from is not None and not (checkpoints / "last.ckpt").exists():
        # Resumed from the other run's checkpoint until this run has its own last.ckpt. Its epoch checkpoints are
        # copied too: a run no longer than the one it continues trains nothing and is scored on them.
        checkpoints.mkdir(parents=True, exist_ok=True)
        for path in start_from.parent.glob("epoch=*.ckpt"):
            shutil.copy(path, checkpoints / path.name)
        resume = [f"--ckpt_path={start_from}"]
    fit_run(config, seed, run_dir, [*overrides, study_callbacks(config), f"--trainer.max_epochs={iterations // epoch}",
                                    *resume], threads=threads)  # fmt: skip
    began = time.perf_counter()
    final = checkpoints / f"epoch={iterations // epoch - 1}.ckpt"
    metric = new_metric(load_generator(final).x_shape[-1])
    row: dict[str, Any] = {"variant": variant, "seed": seed, "iterations": iterations,
                           **score_checkpoint(final, seed, eval_samples, metric)}  # fmt: skip
    for point in curve:
        found = checkpoints / f"epoch={point // epoch - 1}.ckpt"
        figures = score_checkpoint(found, seed, eval_samples, metric)
        row.update({f"{k}_{curve_label(point)}": figures[k] for k in METRICS})
    row["train_seconds"] = round(training_seconds(final), 1)
    row["seconds_per_iteration"] = row["train_seconds"] / iterations
    row["score_seconds"] = round(time.perf_counter() - began, 1)
    kept = {f"epoch={p // epoch - 1}.ckpt" for p in points}
    for path in checkpoints.glob("epoch=*.ckpt"):
        if path.name not in kept:
            path.unlink()
    return row


def curve_label(point: int) -> str:
    """Column suffix of a curve point: ``2k`` for 2,000 iterations, the number itself off the thousands."""
    return f"{point // 1000}k" if point % 1000 == 0 else str(point)


def equal_wall_iterations(rows: Sequence[dict[str, Any]], seeds: Sequence[int], epoch: int) -> int | None:
    """Iterations a plain GAN gets in GAN+MINE's wall time, from the measured rows of ``seeds``; ``None`` until
    both variants finished every seed.

    .. math:: n = \\frac{\\overline{t}_{\\text{GAN+MINE}}}{\\overline{t_{\\text{GAN}} / n_{\\text{GAN}}}}

    rounded to whole epochs of ``epoch`` iterations, and never fewer than the GAN's own iterations.

    Example:
        >>> rows = [{"variant": "GAN", "seed": s, "train_seconds": 100.0, "iterations": 1000} for s in (0, 1)]
        >>> rows += [{"variant": "GAN+MINE", "seed": s, "train_seconds": t, "iterations": 1000}
        ...          for s, t in ((0, 240.0), (1, 260.0))]
        >>> equal_wall_iterations(rows, [0, 1], epoch=100)
        2500
    """
    by = {(r["variant"], int(r["seed"])): r for r in rows}
    if any((variant, s) not in by for variant in (GAN, MINE) for s in seeds):
        return None
    mine_seconds = statistics.fmean(float(by[(MINE, s)]["train_seconds"]) for s in seeds)
    gan_rate = statistics.fmean(float(by[(GAN, s)]["train_seconds"]) / int(by[(GAN, s)]["iterations"]) for s in seeds)
    gan_iterations = max(int(by[(GAN, s)]["iterations"]) for s in seeds)
    return max(gan_iterations, epoch * round(mine_seconds / gan_rate / epoch))


# ----------------------------------------------------------------------------------------------- tables
def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def paired_cell(rows: Sequence[dict[str, Any]], baseline: str, variant: str, column: str) -> str:
    """``mean [low, high]`` of ``variant − baseline`` in ``column``, paired by seed; ``—`` under two pairs."""

    def by_seed(name: str) -> dict[int, float]:
        return {int(r["seed"]): _number(r.get(column)) for r in rows
                if r["variant"] == name and not math.isnan(_number(r.get(column)))}  # fmt: skip

    a, b = by_seed(baseline), by_seed(variant)
    if len(set(a) & set(b)) < 2:
        return "—"
    mean, low, high, n = paired_interval(a, b)
    verdict = "" if low <= 0 <= high else " *"
    return f"{mean:+.3g} [{low:+.3g}, {high:+.3g}]{verdict} (n={n})"


def table(rows: Sequence[dict[str, Any]], curve: Sequence[int], seeds: Sequence[int], complete: bool) -> str:
    trained = [r for r in rows if r["variant"] in (GAN, MINE, EQUAL_WALL)]
    references = [r for r in rows if r["variant"] in ("real", "noise")]
    names = [n for n in (GAN, MINE, EQUAL_WALL) if any(r["variant"] == n for r in trained)]
    length = {n: sorted({int(r["iterations"]) for r in trained if r["variant"] == n}) for n in names}
    lines = [
        "Stacked MNIST collapse regime (issue 25): the shipped nets with the smaller discriminator "
        "(`gan_small_d.yaml`, `gan_mine_small_d.yaml`), 5,000 shipped MNIST digits at 28×28. Mean ± std over the "
        f"seeds finished (of {list(seeds)}); "
        + ("complete." if complete else "PARTIAL: jobs still to run.")
        + " Modes of 1,000 and KL to uniform as in MINE's Table 1; confident: channels labelled with p ≥ 0.9; "
        "Fréchet: distance of the classifier's features to the training digits (`real` is the floor, `noise` "
        "the ceiling).",
        "",
        "| variant | seeds | iterations | modes (of 1000) | KL | confident % | Fréchet | s / iteration |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        rs = [r for r in trained if r["variant"] == name]
        cells = [mean_std([_number(r[k]) for r in rs]) for k in METRICS]
        speed = mean_std([_number(r["seconds_per_iteration"]) for r in rs])
        lines.append(
            f"| {name} | {len(rs)} | {', '.join(map(str, length[name]))} | " + " | ".join(cells) + f" | {speed} |"
        )
    for r in references:
        lines.append(f"| {r['variant']} | {r['seed']} | — | {r['modes']} | {_number(r['kl']):.3g} | "
                     f"{_number(r['confident_pct']):.3g} | {_number(r['frechet']):.1f} | — |")  # fmt: skip
    labels = [curve_label(p) for p in curve]
    lines += ["", "Learning curve, mean ± std over seeds (the last column is the run's length):", ""]
    lines += ["| variant | metric | " + " | ".join(labels) + " | final |", "|---|---|" + "---|" * (len(labels) + 1)]
    for name in (GAN, MINE):
        rs = [r for r in trained if r["variant"] == name]
        for metric in METRICS:
            if not rs:
                continue
            cells = [mean_std([_number(r.get(f"{metric}_{label}")) for r in rs]) for label in labels]
            lines.append(
                f"| {name} | {metric} | " + " | ".join([*cells, mean_std([_number(r[metric]) for r in rs])]) + " |"
            )
    lines += ["", "Paired differences over seeds, mean [95 % t-interval] (* : the interval excludes zero):", "",
              f"| metric | at | {MINE} − {GAN} | {MINE} − {EQUAL_WALL} |", "|---|---|---|---|"]  # fmt: skip
    for metric in METRICS:
        for label in [*labels, "final"]:
            column = metric if label == "final" else f"{metric}_{label}"
            versus_wall = paired_cell(trained, EQUAL_WALL, MINE, metric) if label == "final" else "—"
            lines.append(f"| {metric} | {label} | {paired_cell(trained, GAN, MINE, column)} | {versus_wall} |")
    return "\n".join(lines)


def _load_run_script():
    """``run.py`` of this folder by path (another folder's ``run`` module may be imported under that name)."""
    spec = importlib.util.spec_from_file_location("stacked_digits_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def picture(run_dirs: dict[str, Path], seed: int, iterations: dict[str, int], out: Path, name: str) -> None:
    """64 samples of each variant's last checkpoint for ``seed`` beside 64 held-out real stacks."""
    import torch

    run = _load_run_script()
    images = {}
    for variant, run_dir in run_dirs.items():
        found = sorted(checkpoint_dir(run_dir).glob("epoch=*.ckpt"), key=lambda p: int(p.stem.split("=")[1]))
        if found:
            images[f"{variant} (seed {seed}, {iterations[variant]:,} it.)"] = load_generator(found[-1]).sample(
                64, torch.Generator().manual_seed(10_000 + seed)
            )
    images[run.REAL] = held_out_stacks(28, 64, seed=0)
    if len(images) > 1:
        run.plot(images, out, name)


# ----------------------------------------------------------------------------------------------- cost
def measure(config: Path, batches: int, run_dir: Path, threads: int = 1) -> tuple[float, float]:
    """Seconds per generator iteration of ``config``: ``batches`` training batches in a fresh ``mine-gan fit``.

    Returns ``(wall, cpu)``: the wall seconds of the training steps (Lightning's ``Timer``; the first steps' set-up
    included), and the CPU seconds they would take on an idle core, estimated as the wall seconds times the share
    of a core the process had (its CPU time over its wall time, start-up included). On a shared machine the first
    says what a run costs now, the second what it costs alone.
    """
    import resource

    if run_dir.exists():
        shutil.rmtree(run_dir)
    overrides = [study_callbacks(config), "--trainer.max_epochs=1", f"--trainer.limit_train_batches={batches}",
                 "--trainer.limit_val_batches=0"]  # fmt: skip
    before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    fit_run(config, 100, run_dir, overrides, threads=threads)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - began
    share = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / wall
    d_steps = int(yaml.safe_load(config.read_text())["model"]["init_args"].get("d_steps", 1))
    per_iteration = training_seconds(checkpoint_dir(run_dir) / "last.ckpt") / (batches // d_steps)
    return per_iteration, per_iteration * min(share, threads)


def estimate(batches: int, runs: Path, threads: int) -> dict[str, float]:
    """Measure both YAMLs (:func:`measure`), print the seconds per iteration, return the CPU seconds per iteration."""
    measured = {v: measure(c, batches, runs / "estimate" / v.replace("+", "_"), threads) for v, c in CONFIGS.items()}
    print(f"seconds per iteration, {batches} batches, {load_average()}:")
    for variant, (wall, cpu) in measured.items():
        print(f"  {variant}: {wall * 1000:.1f} ms wall now, about {cpu * 1000:.1f} ms of CPU (one idle core)")
    wall_ratio, cpu_ratio = (measured[MINE][k] / measured[GAN][k] for k in (0, 1))
    print(f"  GAN+MINE / GAN: {wall_ratio:.2f}x wall, {cpu_ratio:.2f}x CPU")
    return {variant: cpu for variant, (_, cpu) in measured.items()}


def load_average() -> str:
    import os

    return "load average " + " / ".join(f"{v:.1f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def study_cost(seconds: dict[str, float], seeds: int, iterations: int, curve_points: int, score_seconds: float) -> str:
    """CPU-hours of the study from CPU seconds per iteration (one thread per run; scoring about 30 s a point)."""
    gan, mine = seconds[GAN] * iterations, seconds[MINE] * iterations
    equal_wall = max(0.0, mine - gan)  # continues the GAN's run up to GAN+MINE's wall time
    scoring = (2 * (curve_points + 1) + 1) * score_seconds
    total = seeds * (gan + mine + equal_wall + scoring)
    return (f"study, {seeds} seeds × {iterations:,} iterations: GAN {gan / 60:.0f} min + GAN+MINE {mine / 60:.0f} min "
            f"+ equal-wall GAN {equal_wall / 60:.0f} min + scoring {scoring / 60:.0f} min per seed = "
            f"{total / 3600:.1f} CPU-hours ({total / 7200:.1f} h on 2 idle cores with --jobs 2)")  # fmt: skip


# ----------------------------------------------------------------------------------------------- main
def job_digest(config: Path, overrides: Sequence[str], iterations: int, curve: Sequence[int]) -> str:
    """What a run trains: the YAML's content (comments aside), the overrides, its length and curve."""
    loaded = yaml.safe_load(Path(config).read_text())
    return config_hash({"config": loaded, "overrides": list(overrides), "iterations": iterations,
                        "curve": list(curve)})[:12]  # fmt: skip


def tuned_overrides(path: Path | None) -> dict[str, list[str]]:
    """The overrides ``tune.py`` chose per variant (its JSON's ``winners``), or none."""
    if path is None:
        return {GAN: [], MINE: []}
    chosen = json.loads(Path(path).read_text())
    if not chosen.get("complete"):
        raise SystemExit(f"{path} is from a tuning that has not finished every candidate; finish it (tune.py) first")
    winners = chosen["winners"]
    return {variant: list(winners.get(variant, {}).get("overrides", [])) for variant in (GAN, MINE)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(5)))
    p.add_argument("--iterations", type=int, default=ITERATIONS, help="generator iterations of GAN and GAN+MINE")
    p.add_argument("--curve", type=int, nargs="*", default=list(CURVE), help="iterations of the learning curve")
    p.add_argument("--eval-samples", type=int, default=EVAL_SAMPLES, help="stacks scored per point")
    p.add_argument("--jobs", type=int, default=2, help="runs at once, one CPU thread each")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument(
        "--overrides",
        action="extend",
        nargs="*",
        default=[],
        help="CLI overrides for every run, each as --overrides=--key=value",
    )
    p.add_argument("--tuned", type=Path, help="tune.py's JSON: train each variant with the overrides it chose")
    p.add_argument("--name", default="collapse", help="suffix of the result files")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--runs", type=Path, default=RUNS)
    p.add_argument(
        "--estimate", type=int, metavar="BATCHES", help="only time BATCHES batches of each YAML, print the cost"
    )
    args = p.parse_args()
    quiet()
    import torch

    torch.set_num_threads(args.threads)
    if args.estimate:
        seconds = estimate(args.estimate, args.runs, args.threads)
        print(study_cost(seconds, len(args.seeds), args.iterations, len(args.curve), score_seconds=30.0))
        return

    start = time.perf_counter()
    tuned = tuned_overrides(args.tuned)
    ledger = StudyRows(args.results / f"stacked_digits_{args.name}.csv")
    epoch = per_epoch(CONFIGS[GAN], args.overrides)
    scoring = {"eval_samples": args.eval_samples}
    # (variant, seed) -> (the YAML it trains, its length); the equal-wall rows join once their length is known
    jobs: dict[tuple[str, int], tuple[str, int]] = {
        (variant, seed): (variant, args.iterations) for seed in args.seeds for variant in (GAN, MINE)
    }

    def run_dir(key: tuple[str, int]) -> Path:
        base, iterations = jobs[key]
        digest = job_digest(CONFIGS[base], [*args.overrides, *tuned[base]], iterations, args.curve)
        return args.runs / key[0].replace(" ", "_").replace("+", "_").replace("'", "") / f"seed_{key[1]}_{digest}"

    def row_digest(key: tuple[str, int]) -> str:
        return config_hash({"run": run_dir(key).name, **scoring})[:12]

    def finished(key: tuple[str, int]) -> dict[str, Any] | None:
        return ledger.done(*key, config=row_digest(key))

    def run(key: tuple[str, int], start_from: Path | None = None) -> None:
        if finished(key) is not None:
            return
        base, iterations = jobs[key]
        # The equal-wall run continues the GAN's: its curve is the GAN's, scored there.
        curve = [] if start_from is not None else [c for c in args.curve if c < iterations]
        row = train_row(key[0], CONFIGS[base], key[1], run_dir(key), [*args.overrides, *tuned[base]], iterations,
                        curve, args.eval_samples, args.threads, start_from)  # fmt: skip
        ledger.add({**row, "config": row_digest(key)})
        print(
            f"{key[0]} seed {key[1]}: {row['modes']} modes, KL {row['kl']:.3f}, {row['confident_pct']:.1f}% "
            f"confident, Fréchet {row['frechet']:.1f}, {row['train_seconds']:.0f} s training",
            flush=True,
        )

    failures: list[str] = []

    def run_all(keys: list[tuple[str, int]], start_from: dict[tuple[str, int], Path | None]) -> None:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run, key, start_from.get(key)): key for key in keys}
            for future, key in futures.items():
                try:
                    future.result()
                except Exception as error:  # noqa: BLE001 - report and go on: the other rows are still worth having
                    failures.append(f"{key}: {error}")
                    print(f"FAILED {key}: {error}", flush=True)

    for variant in ("real", "noise"):
        digest = config_hash({"reference": variant, **scoring})[:12]
        if ledger.done(variant, REFERENCE_SEED, config=digest) is None:
            (row,) = reference_rows(28, REFERENCE_SEED, (variant,), num=args.eval_samples)
            row.pop("classifier_accuracy")
            ledger.add({**row, "config": digest})
    run_all(list(jobs), {})
    paired_rows = [row for key in list(jobs) if (row := finished(key)) is not None]
    wall_iterations = equal_wall_iterations(paired_rows, args.seeds, epoch)
    if wall_iterations is not None:
        continued = {}
        for seed in args.seeds:
            jobs[(EQUAL_WALL, seed)] = (GAN, wall_iterations)
            last = checkpoint_dir(run_dir((GAN, seed))) / "last.ckpt"
            continued[(EQUAL_WALL, seed)] = last if last.exists() else None
        run_all([(EQUAL_WALL, seed) for seed in args.seeds], continued)

    rows = [row for key in jobs if (row := finished(key)) is not None]
    rows += [r for r in ledger.rows if r["variant"] in ("real", "noise")]
    wanted = 2 * len(args.seeds) + len(args.seeds) + 2  # GAN, GAN+MINE, equal wall per seed; real, noise
    complete = not failures and len(rows) == wanted
    text = table(rows, args.curve, args.seeds, complete)
    if wall_iterations is not None:
        text += (f"\n\n{EQUAL_WALL}: {wall_iterations:,} iterations, GAN+MINE's mean training time over the GAN's "
                 "mean seconds per iteration (both measured by this study).")  # fmt: skip
    (args.results / f"stacked_digits_{args.name}.md").write_text(text + "\n")
    first = args.seeds[0]
    picture({v: run_dir((v, first)) for v in (GAN, MINE)}, first, {GAN: args.iterations, MINE: args.iterations},
            args.results, args.name)  # fmt: skip
    config = {v: {"config": str(CONFIGS[v].relative_to(REPOSITORY)), "overrides": [*args.overrides, *tuned[v]]}
              for v in (GAN, MINE)}  # fmt: skip
    config |= {"iterations": args.iterations, "curve": args.curve, **scoring}
    write_meta(args.results, args.name, time.perf_counter() - start, seeds=args.seeds, config=config,
               extra={"complete": complete, "equal_wall_iterations": wall_iterations, "failures": failures,
                      "rows": len(rows), "rows_wanted": wanted})  # fmt: skip
    print(text)


if __name__ == "__main__":
    main()
