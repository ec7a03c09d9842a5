"""Mode dropping on PacGAN's 25-Gaussian grid and 8-Gaussian ring (MINE, Belghazi et al. 2018, §5.1, Fig. 3).

Four variants of one recipe, each seed's runs trained together by :class:`mine_gan.batched.BatchedGANTrainer`:
GAN (the recipe with ``mi_weight=0``: the code fed but not rewarded, everything else equal), GAN+MINE
(``−β·I(G([ε, c]); c)``, T trained on the Jensen-Shannon bound, adaptive clipping of eq. 21), GAN+MINE
without clipping (``clip=None``) and InfoGAN's Q network (``mi="q"``). The recipe is the GAN+MINE winner of
``benchmarks/mode_coverage_tune.py`` (chosen on seeds 100+), read from
``benchmarks/results/mode_coverage_tune.json``. Every run draws 2,500 samples scored by PacGAN's protocol
(:func:`mine_gan.metrics.functional.mode_coverage`): modes captured (≥ 1 sample within 3σ), high-quality
samples (within 3σ of a centre), reverse KL of their mode histogram to uniform.

    python experiments/mode_dropping/run.py                  # CPU scale: the recipe's iterations, seeds 0-2
    python experiments/mode_dropping/run.py --scale small    # 1,500 iterations, seed 0
    python experiments/mode_dropping/run.py --scale full     # 30,000 iterations, seeds 0-4

Writes ``results/mode_dropping_<scale>.{csv,md}``, ``results/samples_<layout>_<scale>.png`` (the first seed,
samples over the true centres) and ``results/meta_<scale>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import REPOSITORY, mean_std, write_results  # noqa: E402

from mine_gan.batched import GANConfig, train_and_score  # noqa: E402
from mine_gan.data import GaussianMixture  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TUNED = REPOSITORY / "benchmarks" / "results" / "mode_coverage_tune.json"
LAYOUTS = {"grid": "gaussians25", "ring": "ring8"}
VARIANTS = ("GAN", "GAN+MINE", "GAN+MINE (no clip)", "InfoGAN (Q)")
SCALES = {"small": (1500, 1), "cpu": (None, 3), "full": (30_000, 5)}  # iterations (None: the recipe's), seeds
EVAL_SAMPLES = 2500


def configs(recipe: GANConfig) -> dict[str, GANConfig]:
    """The four variants of ``recipe`` (the GAN+MINE recipe)."""
    return {
        "GAN": replace(recipe, mi_weight=0.0, name="GAN"),
        "GAN+MINE": replace(recipe, name="GAN+MINE"),
        "GAN+MINE (no clip)": replace(recipe, clip=None, name="GAN+MINE (no clip)"),
        "InfoGAN (Q)": replace(recipe, mi="q", name="InfoGAN (Q)"),
    }


def table(rows: list[dict], seeds: list[int], iterations: int, batch: int) -> str:
    lines = [
        f"Mode dropping (MINE §5.1, PacGAN's data and scoring): mean ± std over seeds {seeds}, {iterations} "
        f"iterations of batch {batch}, {EVAL_SAMPLES} samples scored per run.",
        "",
        "| data | method | modes | high-quality % | reverse KL |",
        "|---|---|---|---|---|",
    ]
    for layout in LAYOUTS:
        for variant in VARIANTS:
            rs = [r for r in rows if r["layout"] == layout and r["variant"] == variant]
            if not rs:
                continue
            k = rs[0]["num_modes"]
            lines.append(
                f"| {LAYOUTS[layout]} | {variant} | {mean_std([r['modes'] for r in rs])} / {k} | "
                f"{mean_std([r['high_quality_pct'] for r in rs])} | {mean_std([r['kl'] for r in rs])} |"
            )
    return "\n".join(lines)


def plot(samples: dict[tuple[str, str], torch.Tensor], out: Path, scale: str, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for layout in LAYOUTS:
        data = GaussianMixture(layout)
        fig, axes = plt.subplots(1, len(VARIANTS), figsize=(4 * len(VARIANTS), 4.3), sharex=True, sharey=True)
        lim = 6.0 if layout == "grid" else 1.5
        for ax, variant in zip(axes, VARIANTS, strict=True):
            xy = samples.get((layout, variant))
            if xy is not None:
                ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.4, label="samples")
            ax.scatter(data.centers[:, 0], data.centers[:, 1], s=25, c="red", marker="x", label="centres")
            ax.set(title=variant, xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        axes[0].legend(loc="upper left", fontsize=8)
        fig.suptitle(f"{LAYOUTS[layout]}: {EVAL_SAMPLES} samples, seed {seed}")
        fig.tight_layout()
        fig.savefig(out / f"samples_{layout}_{scale}.png", dpi=90)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the scale's seeds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--tuned", type=Path, default=TUNED, help="the tuning sweep's winners")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = GANConfig(**json.loads(args.tuned.read_text())["winners"]["mine"]["recipe"])
    iterations, num_seeds = SCALES[args.scale]
    recipe = replace(recipe, iterations=iterations or recipe.iterations)
    seeds = args.seeds or list(range(num_seeds))
    variants = configs(recipe)
    start = time.perf_counter()
    rows, samples = [], {}
    for layout in LAYOUTS:
        data = GaussianMixture(layout)
        for variant, config in variants.items():
            seed_rows, trainer = train_and_score(config, data, seeds, EVAL_SAMPLES)
            samples[layout, variant] = trainer.sample(EVAL_SAMPLES)[0]
            for r in seed_rows:
                rows.append(
                    dict(
                        layout=layout,
                        variant=variant,
                        seed=r["seed"],
                        iterations=r["iterations"],
                        modes=r["modes"],
                        num_modes=r["num_modes"],
                        high_quality_pct=r["high_quality_pct"],
                        kl=r["kl"],
                        seconds=round(trainer.seconds / len(seeds), 1),
                    )
                )
                print(
                    f"{layout} {variant:20s} seed {r['seed']}: {r['modes']}/{r['num_modes']} modes, "
                    f"{r['high_quality_pct']:.1f}% HQ, KL {r['kl']:.3f}",
                    flush=True,
                )
    wall = time.perf_counter() - start
    text = table(rows, seeds, recipe.iterations, recipe.batch_size)
    config = {name: c.recipe() for name, c in variants.items()}
    write_results(RESULTS, "mode_dropping", rows, text, args.scale, wall, seeds=seeds, config=config)
    plot(samples, RESULTS, args.scale, seeds[0])
    print(text)


if __name__ == "__main__":
    main()
