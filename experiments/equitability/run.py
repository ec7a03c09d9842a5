"""MINE paper, Figure 2 (equitability): Y = f(X) + σε, X ~ U(-1, 1), ε ~ N(0, 1), f ∈ {x, x³, sin x}.

An equitable estimator's value depends on the noise level σ, not on the form of f. We also compute the
true I(X; Y) = h(Y) − ½ log(2πeσ²) by numerical integration of p(y), so the table shows how far each
estimate is from the truth, and how much of the spread across f is real.

    python experiments/equitability/run.py            # writes results/
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import write_meta  # noqa: E402

from mine_gan import estimate_mi

RESULTS = Path(__file__).parent / "results"
FUNCTIONS = {"x": lambda x: x, "x^3": lambda x: x**3, "sin(x)": torch.sin}
SIGMAS = [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


def true_mi(f, sigma: float, grid: int = 4001) -> float:
    """I(X; Y) = h(Y) - h(Y | X) with p(y) = ½ ∫_{-1}^{1} N(y; f(x), σ²) dx, by quadrature (float64)."""
    x = torch.linspace(-1, 1, grid, dtype=torch.float64)
    fx = f(x)
    lo, hi = float(fx.min()) - 8 * sigma, float(fx.max()) + 8 * sigma
    y = torch.linspace(lo, hi, 8001, dtype=torch.float64)
    dens = torch.exp(-0.5 * ((y[:, None] - fx[None, :]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    p_y = torch.trapezoid(dens, x, dim=1) / 2
    h_y = -torch.trapezoid(torch.where(p_y > 0, p_y * torch.log(p_y), torch.zeros_like(p_y)), y)
    return float(h_y) - 0.5 * math.log(2 * math.pi * math.e * sigma**2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sigmas", type=float, nargs="+", default=SIGMAS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    for sigma in args.sigmas:
        for name, f in FUNCTIONS.items():
            truth = true_mi(f, sigma)
            for seed in args.seeds:
                g = torch.Generator().manual_seed(seed)
                x = 2 * torch.rand(args.samples, 1, generator=g) - 1
                y = f(x) + sigma * torch.randn(args.samples, 1, generator=g)
                t0 = time.perf_counter()
                value = estimate_mi(x, y, seed=seed).value
                rows.append(
                    dict(sigma=sigma, f=name, seed=seed, truth=truth, estimate=value, seconds=time.perf_counter() - t0)
                )
                print(f"sigma={sigma:<5} f={name:7s} seed={seed} true={truth:.3f} est={value:.3f}", flush=True)
    wall = time.perf_counter() - start

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "equitability.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def mean(sigma, name, key):
        vals = [r[key] for r in rows if r["sigma"] == sigma and r["f"] == name]
        return sum(vals) / len(vals)

    names = list(FUNCTIONS)
    lines = [
        f"Equitability (MINE Fig. 2), estimate_mi defaults, mean over seeds {args.seeds}, {args.samples} samples; "
        f"wall time {wall / 60:.1f} min on {platform.machine()} CPU ({torch.get_num_threads()} threads).",
        "",
        "| σ | "
        + " | ".join(f"{n} est (true)" for n in names)
        + " | spread of estimates across f | spread of truths |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for sigma in args.sigmas:
        est = [mean(sigma, n, "estimate") for n in names]
        tru = [mean(sigma, n, "truth") for n in names]
        cells = [f"{e:.3f} ({t:.3f})" for e, t in zip(est, tru, strict=True)]
        spreads = f" | {max(est) - min(est):.3f} | {max(tru) - min(tru):.3f} |"
        lines.append(f"| {sigma} | " + " | ".join(cells) + spreads)
    (args.out / "equitability.md").write_text("\n".join(lines) + "\n")
    # estimate_mi runs with its defaults, which the recorded commit pins; these are what the flags chose.
    config = {"sigmas": args.sigmas, "samples": args.samples, "functions": list(FUNCTIONS)}
    write_meta(args.out, "equitability", wall, seeds=args.seeds, config=config)
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for n in names:
        line = ax.plot(args.sigmas, [mean(s, n, "estimate") for s in args.sigmas], "o-", label=f"MINE, f = {n}")
        ax.plot(args.sigmas, [mean(s, n, "truth") for s in args.sigmas], ":", color=line[0].get_color())
    ax.set(xscale="log", xlabel="σ", ylabel="I(X; Y) [nats]", title="Equitability (dotted: truth)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "equitability.png", dpi=120)


if __name__ == "__main__":
    main()
