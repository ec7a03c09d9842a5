"""Mode dropping on the 25-Gaussian grid and the 8-Gaussian ring (MINE, Belghazi et al. 2018, §5.1, Fig. 3).

Four variants, each a ``mine-gan`` config of ``experiments/gaussians25/`` and ``experiments/ring8/`` (the
hyperparameters live there, not here): GAN (``gan.yaml``, the code fed but not rewarded), GAN+MINE with
adaptive clipping (``gan_mine.yaml``), GAN+MINE without clipping (``gan_mine_noclip.yaml``) and InfoGAN's Q
network (``gan_q.yaml``). Every run draws 2,500 samples scored by :class:`mine_gan.metrics.ModeCoverage`:
modes covered (≥ 20 samples within 3σ), high-quality samples (within 3σ of a centre), KL to uniform.

    python experiments/mode_dropping/run.py                  # CPU scale: 3,000 iterations, seeds 0-2
    python experiments/mode_dropping/run.py --scale small    # 1,500 iterations, seed 0
    python experiments/mode_dropping/run.py --scale full     # 10,000 iterations, seeds 0-4

Writes ``results/mode_dropping_<scale>.{csv,md}``, ``results/samples_<layout>_<scale>.png`` (seed 0) and
``results/meta_<scale>.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import EXPERIMENTS, fit, from_config, mean_std, quiet, write_results  # noqa: E402

RESULTS = Path(__file__).parent / "results"
LAYOUTS = {"grid": "gaussians25", "ring": "ring8"}
VARIANTS = {"GAN": "gan", "GAN+MINE": "gan_mine", "GAN+MINE (no clip)": "gan_mine_noclip", "InfoGAN (Q)": "gan_q"}
SCALES = {"small": (1500, 1), "cpu": (3000, 3), "full": (10000, 5)}  # iterations, seeds
BATCH = 256  # the configs' batch size; num_samples is set to iterations × BATCH
EVAL_SAMPLES = 2500


def run_one(layout: str, variant: str, seed: int, iterations: int, threads: int) -> tuple[dict, list]:
    import torch

    from mine_gan.metrics import ModeCoverage

    torch.set_num_threads(threads)
    quiet()
    config = EXPERIMENTS / LAYOUTS[layout] / f"{VARIANTS[variant]}.yaml"
    model, data = from_config(
        config, seed, [f"--data.init_args.num_samples={iterations * BATCH}", f"--data.init_args.batch_size={BATCH}"]
    )
    seconds = fit(model, data)
    torch.manual_seed(10_000 + seed)
    samples = model.sample(EVAL_SAMPLES)
    metric = ModeCoverage(data.centers, data.std)
    metric.update(samples)
    s = {k: float(v) for k, v in metric.compute().items()}
    row = dict(
        layout=layout,
        variant=variant,
        seed=seed,
        iterations=iterations,
        modes=int(round(s["modes"])),
        num_modes=int(data.centers.shape[0]),
        high_quality_pct=100 * s["high_quality"],
        kl=s["kl"],
        seconds=round(seconds, 1),
    )
    return row, samples.tolist() if seed == 0 else []


def table(rows: list[dict], seeds: list[int], iterations: int) -> str:
    lines = [
        f"Mode dropping (MINE §5.1): mean ± std over seeds {seeds}, {iterations} iterations of batch {BATCH}, "
        f"{EVAL_SAMPLES} samples scored per run.",
        "",
        "| data | method | modes | high-quality % | KL |",
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


def plot(samples: dict, out: Path, scale: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from mine_gan.data import mixture_centers

    for layout in LAYOUTS:
        fig, axes = plt.subplots(1, len(VARIANTS), figsize=(4 * len(VARIANTS), 4), sharex=True, sharey=True)
        centers = mixture_centers(layout)
        for ax, variant in zip(axes, VARIANTS, strict=True):
            xy = torch.tensor(samples.get((layout, variant), [[float("nan")] * 2]))
            ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.4)
            ax.scatter(centers[:, 0], centers[:, 1], s=15, c="k", marker="x")
            lim = 6 if layout == "grid" else 3.5
            ax.set(title=variant, xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        fig.suptitle(f"{LAYOUTS[layout]}: {EVAL_SAMPLES} samples, seed 0")
        fig.tight_layout()
        fig.savefig(out / f"samples_{layout}_{scale}.png", dpi=90)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the scale's seeds")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel, one process each")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    args = parser.parse_args()
    iterations, num_seeds = SCALES[args.scale]
    seeds = args.seeds or list(range(num_seeds))
    jobs = [(layout, variant, seed) for seed in seeds for layout in LAYOUTS for variant in VARIANTS]
    start = time.perf_counter()
    rows, samples = [], {}
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_one, *job, iterations, args.threads) for job in jobs]
        for (layout, variant, seed), future in zip(jobs, futures, strict=True):
            row, xy = future.result()
            rows.append(row)
            if xy:
                samples[layout, variant] = xy
            print(
                f"{layout} {variant:20s} seed {seed}: {row['modes']}/{row['num_modes']} modes, "
                f"{row['high_quality_pct']:.1f}% HQ, KL {row['kl']:.3f} ({row['seconds']}s)",
                flush=True,
            )
    wall = time.perf_counter() - start
    text = table(rows, seeds, iterations)
    write_results(RESULTS, "mode_dropping", rows, text, args.scale, wall)
    plot(samples, RESULTS, args.scale)
    print(text)


if __name__ == "__main__":
    main()
