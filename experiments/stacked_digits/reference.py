"""Reference rows of the Stacked MNIST table: real held-out stacks and uniform noise, scored as GAN samples are.

A digit classifier names a digit for any image, so the table needs rows that say what its numbers mean at the
two ends: ``real``, stacks of the 1,000 held-out real digits (what a perfect generator would score), and
``noise``, uniform noise in ``[-1, 1]`` (what a generator that learned nothing would score). A third row,
``blurred``, is the real stacks under a 3×3 mean filter: digits any person reads, but not sharp ones. Every row
is scored like the GAN samples of ``run.py``, by :func:`new_metric`: 26,000 stacks, each channel classified by
the project's digit classifier (trained on the 4,000 non-test digits of the shipped 5,000, cached), modes of
1,000 and KL to uniform, the share of channels labelled with p ≥ 0.9, and the Fréchet distance between the
classifier's penultimate features of the channels and of the GAN's 3,500 training digits.

The Fréchet reference is the training digits, not the held-out ones: the ``real`` stacks are made of the
held-out digits, so against those same digits their distance would be sampling noise only (nearly zero), while
against the training digits it is the gap between two samples of handwriting, the floor a generator of new
digits can reach.

    python experiments/stacked_digits/reference.py               # seed 0, 28×28
    python experiments/stacked_digits/reference.py --seeds 0 1 2 # the draws of stacks and noise vary

Writes ``results/stacked_digits_reference.{csv,md}`` and ``results/meta_reference.json``. ``run.py`` appends
the ``real`` and ``noise`` rows of :func:`reference_rows` to its own tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import quiet, write_results  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
EVAL_SAMPLES = 26_000  # the protocol's sample count (Metz et al. 2017; VEEGAN)
CLASSIFIER_SEED = 0  # one measuring instrument for every run and row
CONFIDENCE = 0.9
Reference = Literal["real", "blurred", "noise"]
REFERENCES: tuple[Reference, ...] = ("real", "blurred", "noise")


def training_digits(image_size: int) -> Tensor:
    """The GAN's training digits ``(3500, 1, S, S)`` in ``[-1, 1]``: the Fréchet distance's reference."""
    from mine_gan.data import mnist5k_splits, to_tanh_range

    return to_tanh_range(mnist5k_splits()["train"][0], image_size)


def new_metric(image_size: int, device: torch.device | str = "cpu"):
    """The :class:`~mine_gan.metrics.StackedModeCoverage` every row of the table is scored with."""
    from mine_gan.metrics import StackedModeCoverage

    return StackedModeCoverage(
        image_size=image_size, seed=CLASSIFIER_SEED, confidence=CONFIDENCE, reference=training_digits(image_size)
    ).to(device)


def scores(metric) -> dict:
    """The metric's numbers as table columns."""
    s = {k: float(v) for k, v in metric.compute().items()}
    return dict(
        modes=int(round(s["modes"])),
        kl=s["kl"],
        confident_pct=100 * s["confident"],
        frechet=s["frechet"],
        classifier_accuracy=metric.classifier_accuracy,
    )


def held_out_stacks(image_size: int, num: int, seed: int) -> Tensor:
    """``(num, 3, S, S)`` stacks of held-out real digits (the test stacks of ``StackedMNIST5k``)."""
    from mine_gan.data import StackedMNIST5k

    data = StackedMNIST5k(image_size=image_size, num_samples=1, num_val_samples=num, batch_size=num, seed=seed)
    data.setup("test")
    return next(iter(data.test_dataloader()))[0]


def reference_images(variant: Reference, image_size: int, num: int, seed: int) -> Tensor:
    """``(num, 3, S, S)`` images in ``[-1, 1]`` of one reference row."""
    if variant == "noise":
        generator = torch.Generator().manual_seed(seed)
        return torch.rand(num, 3, image_size, image_size, generator=generator) * 2 - 1
    real = held_out_stacks(image_size, num, seed)
    if variant == "real":
        return real
    # Each pixel the mean of its 3×3 neighbourhood (of those inside the image at the border).
    return F.avg_pool2d(real, 3, stride=1, padding=1, count_include_pad=False)


def reference_rows(
    image_size: int = 28,
    seed: int = 0,
    variants: tuple[Reference, ...] = ("real", "noise"),
    num: int = EVAL_SAMPLES,
    device: torch.device | str = "cpu",
) -> list[dict]:
    """One table row per variant, with the columns of ``run.py``'s GAN rows (``iterations`` empty: nothing trains).

    Args:
        image_size: side of the images, that of the GAN samples they stand beside.
        seed: seed of the stacks drawn and of the noise.
        variants: which of ``"real"``, ``"blurred"``, ``"noise"``.
        num: stacks scored per row.
        device: where the classifier runs.
    """
    rows = []
    for variant in variants:
        if variant not in REFERENCES:
            raise ValueError(f"`variants` must hold values of {REFERENCES}, got {variant!r}")
        metric = new_metric(image_size, device)
        for chunk in reference_images(variant, image_size, num, seed).split(1000):
            metric.update(chunk.to(device))
        rows.append(dict(variant=variant, seed=seed, iterations="", image_size=image_size, **scores(metric)))
    return rows


def describe(row: dict) -> str:
    return (
        f"{row['variant']:8s} seed {row['seed']}: {row['modes']}/1000 modes, KL {row['kl']:.3f}, "
        f"{row['confident_pct']:.1f}% of channels labelled with p >= {CONFIDENCE}, "
        f"Frechet distance {row['frechet']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the stacks and noise drawn")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet()
    start = time.perf_counter()
    rows = []
    for seed in args.seeds:
        for row in reference_rows(args.image_size, seed, REFERENCES):
            rows.append(row)
            print(describe(row), flush=True)
    wall = time.perf_counter() - start
    accuracy = rows[0]["classifier_accuracy"]
    lines = [
        f"Reference rows of Stacked MNIST on the 5,000 shipped MNIST digits at {args.image_size}×{args.image_size}: "
        f"{EVAL_SAMPLES:,} stacks per row, seeds {args.seeds}. `real`: stacks of the 1,000 held-out digits; "
        "`blurred`: the same under a 3×3 mean filter; `noise`: uniform noise in [-1, 1]. Modes and KL as in the "
        f"paper's Table 1; confident: channels the digit classifier (held-out accuracy {accuracy:.3f}, trained on "
        f"the 4,000 other digits) labels with p ≥ {CONFIDENCE}; Fréchet: distance between Gaussians fitted to its "
        "penultimate features of the channels and of the 3,500 training digits.",
        "",
        "| variant | seed | modes (of 1000) | KL | confident channels % | Fréchet distance |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | {r['seed']} | {r['modes']} | {r['kl']:.3g} | {r['confident_pct']:.3g} | "
        f"{r['frechet']:.1f} |"
        for r in rows
    ]
    text = "\n".join(lines)
    config = dict(
        image_size=args.image_size,
        samples=EVAL_SAMPLES,
        classifier_seed=CLASSIFIER_SEED,
        confidence=CONFIDENCE,
        frechet_reference="mnist5k_splits()['train'] (3,500 digits)",
        variants=list(REFERENCES),
    )
    write_results(RESULTS, "stacked_digits", rows, text, "reference", wall, seeds=args.seeds, config=config)
    print(text)


if __name__ == "__main__":
    main()
