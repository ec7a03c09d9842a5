"""Mode dropping on PacGAN's 25-Gaussian grid and 8-Gaussian ring (MINE, Belghazi et al. 2018, §5.1, Fig. 3).

Four variants of one recipe, each a YAML file of ``experiments/gaussians25/`` and ``experiments/ring8/``, all
seeds of a variant trained by one ``mine-gan fit --seeds`` (the module's own step, batched over seeds):
GAN (``gan.yaml``: the recipe with ``mi_weight=0``, the code fed but not rewarded, everything else equal),
GAN+MINE (``gan_mine.yaml``: ``−β·I(G([ε, c]); c)``, T trained on the Jensen-Shannon bound, adaptive clipping
of eq. 21), GAN+MINE without clipping (``gan_mine_noclip.yaml``) and InfoGAN's Q network (``gan_q.yaml``).
Every run's generator is scored on 2,500 samples by PacGAN's protocol (the YAML's ``ModeHistogram``,
:func:`mine_gan.metrics.functional.mode_coverage`): modes captured (≥ 1 sample within 3σ), high-quality
samples (within 3σ of a centre), reverse KL of their mode histogram to uniform.

    python experiments/mode_dropping/run.py                  # CPU scale: the YAML's 12,000 iterations, seeds 0-2
    python experiments/mode_dropping/run.py --scale small    # 1,500 iterations, seed 0
    python experiments/mode_dropping/run.py --scale full     # 30,000 iterations, seeds 0-4

Writes ``results/mode_dropping_<scale>.{csv,md}``, ``results/samples_<layout>_<variant>_<scale>.png`` (the first
seed's final samples over the true centres, as the YAML's ``SamplePictures`` drew them) and
``results/meta_<scale>.json``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (  # noqa: E402
    REPOSITORY,
    fit_seeds,
    iterations_per_epoch,
    mean_std,
    mode_coverage_row,
    write_results,
)

from mine_gan.data import GaussianMixture  # noqa: E402

RESULTS = Path(__file__).parent / "results"
RUNS = REPOSITORY / "runs" / "mode_dropping"
LAYOUTS = {"grid": "gaussians25", "ring": "ring8"}
VARIANTS = {"GAN": "gan", "GAN+MINE": "gan_mine", "GAN+MINE (no clip)": "gan_mine_noclip", "InfoGAN (Q)": "gan_q"}
SCALES = {"small": (1500, 1), "cpu": (None, 3), "full": (30_000, 5)}  # iterations (None: the YAML's), seeds
EVAL_SAMPLES = 2500


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the scale's seeds")
    args = parser.parse_args()
    iterations, num_seeds = SCALES[args.scale]
    seeds = args.seeds or list(range(num_seeds))
    start = time.perf_counter()
    rows, config = [], {}
    for layout, folder in LAYOUTS.items():
        num_modes = len(GaussianMixture(layout).centers)
        for variant, stem in VARIANTS.items():
            path = REPOSITORY / "experiments" / folder / f"{stem}.yaml"
            per_epoch = iterations_per_epoch(path)
            overrides = [] if iterations is None else [f"--trainer.max_epochs={-(-iterations // per_epoch)}"]
            config[f"{layout}/{variant}"] = {"config": str(path.relative_to(REPOSITORY)), "overrides": overrides}
            began = time.perf_counter()
            run_dir = RUNS / args.scale / layout / stem
            if run_dir.exists():
                shutil.rmtree(run_dir)  # a fresh run: this script reports whole runs, not resumed ones
            per_seed = fit_seeds(path, seeds, run_dir, overrides)
            seconds = (time.perf_counter() - began) / len(seeds)
            for seed, metrics in per_seed.items():
                r = mode_coverage_row(metrics, per_epoch, num_modes)
                rows.append(dict(layout=layout, variant=variant, seed=seed, iterations=r["iterations"],
                                 modes=r["modes"], num_modes=num_modes, high_quality_pct=r["high_quality_pct"],
                                 kl=r["kl"], seconds=round(seconds, 1)))  # fmt: skip
                print(f"{layout} {variant:20s} seed {seed}: {r['modes']}/{num_modes} modes, "
                      f"{r['high_quality_pct']:.1f}% HQ, KL {r['kl']:.3f}", flush=True)  # fmt: skip
            pictures = sorted((run_dir / "run" / f"seed_{seeds[0]}" / "media").glob("samples_step*.png"))
            if pictures:
                shutil.copy(pictures[-1], RESULTS / f"samples_{layout}_{stem}_{args.scale}.png")
    wall = time.perf_counter() - start
    text = table(rows, seeds, int(rows[0]["iterations"]), 256)
    write_results(RESULTS, "mode_dropping", rows, text, args.scale, wall, seeds=seeds, config=config)
    print(text)


if __name__ == "__main__":
    main()
