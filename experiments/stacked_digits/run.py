"""Stacked digits, 1,000 modes (MINE Table 1; protocol of Metz et al. 2017) on offline data: GAN vs GAN+MINE.

Three of scikit-learn's bundled digits stacked as RGB channels make 1,000 modes. Models come from the
``mine-gan`` configs ``gan.yaml`` and ``gan_mine.yaml`` next to this script (DCGAN nets at 16×16). After
training, 26,000 generated stacks are classified channel by channel by the project's digit classifier
(:class:`mine_gan.metrics.StackedModeCoverage`, trained on the seed-0 train/val digits and scored on its test
digits); a mode counts when at least one sample lands in it; KL is that of the mode histogram to uniform.
The digit split stays seed 0 for every run (so the classifier never saw the test digits); seeds change the
networks' initialization and the stacks drawn.

    python experiments/stacked_digits/run.py                  # CPU scale: the configs as they are (5 epochs
                                                               # of 400 batches), seeds 0-2
    python experiments/stacked_digits/run.py --scale small    # 1 epoch of 400 batches, seed 0
    python experiments/stacked_digits/run.py --scale full     # 50 epochs, seeds 0-4 (GPU: see stacked_mnist.yaml)

Writes ``results/stacked_digits_<scale>.{csv,md}``, ``results/samples_<scale>.png`` and ``results/meta_<scale>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import fit, from_config, mean_std, quiet, write_results  # noqa: E402

from mine_gan.callbacks.samples import image_grid  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
VARIANTS = {"GAN": "gan.yaml", "GAN+MINE": "gan_mine.yaml"}
# epochs, batches per epoch (None: the config's), seeds
SCALES = {"small": (1, 400, 1), "cpu": (5, None, 3), "full": (50, None, 5)}
EVAL_SAMPLES = 26_000


def run_one(variant: str, seed: int, epochs: int, batches: int | None, accelerator: str) -> tuple[dict, object]:
    import torch

    from mine_gan.metrics import StackedModeCoverage

    overrides = ["--data.init_args.seed=0"]  # the digit split (and so the classifier's unseen digits) stays fixed
    model, data = from_config(HERE / VARIANTS[variant], seed, overrides)
    if batches is not None:
        data.num_samples = batches * data.batch_size
    seconds = fit(model, data, epochs=epochs, accelerator=accelerator)
    metric = StackedModeCoverage(image_size=data.dims[-1], seed=0).to(model.device)
    torch.manual_seed(10_000 + seed)
    for _ in range(EVAL_SAMPLES // 1000):
        metric.update(model.sample(1000))
    s = {k: float(v) for k, v in metric.compute().items()}
    row = dict(
        variant=variant,
        seed=seed,
        epochs=epochs,
        iterations=epochs * (len(data.train_dataloader())),
        modes=int(round(s["modes"])),
        kl=s["kl"],
        classifier_accuracy=metric.classifier_accuracy,
        seconds=round(seconds, 1),
    )
    return row, model.sample(64).cpu()


def plot(images: dict, out: Path, scale: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(images), figsize=(5 * len(images), 5))
    for ax, (name, x) in zip(axes, images.items(), strict=True):
        ax.imshow(image_grid(x, nrow=8))
        ax.set(title=f"{name} (seed 0)")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / f"samples_{scale}.png", dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the scale's seeds")
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    quiet()
    epochs, batches, num_seeds = SCALES[args.scale]
    seeds = args.seeds or list(range(num_seeds))
    start = time.perf_counter()
    rows, images = [], {}
    for seed in seeds:
        for variant in VARIANTS:
            row, x = run_one(variant, seed, epochs, batches, args.accelerator)
            rows.append(row)
            if seed == seeds[0]:
                images[variant] = x
            print(
                f"{variant:9s} seed {seed}: {row['modes']}/1000 modes, KL {row['kl']:.3f} ({row['seconds']}s)",
                flush=True,
            )
    wall = time.perf_counter() - start
    lines = [
        f"Stacked digits, 1,000 modes (MINE Table 1 protocol on scikit-learn digits at 16×16): mean ± std over "
        f"seeds {seeds}, {rows[0]['iterations']} iterations, {EVAL_SAMPLES} samples per run; digit classifier "
        f"held-out accuracy {rows[0]['classifier_accuracy']:.3f}.",
        "",
        "| method | modes (of 1000) | KL |",
        "|---|---|---|",
    ]
    for variant in VARIANTS:
        rs = [r for r in rows if r["variant"] == variant]
        lines.append(f"| {variant} | {mean_std([r['modes'] for r in rs])} | {mean_std([r['kl'] for r in rs])} |")
    text = "\n".join(lines)
    write_results(RESULTS, "stacked_digits", rows, text, args.scale, wall)
    plot(images, RESULTS, args.scale)
    print(text)


if __name__ == "__main__":
    main()
