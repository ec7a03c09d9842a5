"""Choose every bottleneck row's β, dropout rate and learning rate on the validation split, never on test.

Each method of ``GRID`` gets the same learning rates; the regularized ones their β (or dropout rate) on top.
Every candidate trains on the tuning seeds 100-101, disjoint from the seeds ``run.py`` reports, and each
method keeps the candidate with the lowest mean **validation** error, ties broken by the lower ``I(X; Z)``.
Test error is recorded for the β curves (``results/beta_<scale>.png``: test error and the independent
``I(X; Z)`` against β for deep VIB and MINE-IB) but never chooses anything.
The winners go to ``results/tuning_<scale>_chosen.json``, the rows ``run.py`` trains.

    python experiments/bottleneck/tune.py                 # mnist5k, seeds 100-101, 2 processes (74 runs)
    python experiments/bottleneck/tune.py --resume        # keep the finished candidates, run the rest
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from harness import write_meta  # noqa: E402
from run import BASELINE, RESULTS, VIB, chosen_path, previous_wall, run_rows  # noqa: E402

LEARNING_RATES = (3e-4, 1e-3, 3e-3)
BETAS = (1e-4, 1e-3, 1e-2, 1e-1)
# Candidates per method: InformationBottleneck arguments overriding the config's model.
GRID: dict[str, list[dict[str, Any]]] = {
    BASELINE: [{"mi_weight": 0.0, "lr": lr} for lr in LEARNING_RATES],
    "dropout": [{"mi_weight": 0.0, "dropout": p, "lr": lr} for p in (0.2, 0.5) for lr in LEARNING_RATES],
    VIB: [{"mi": "vib", "mi_weight": beta, "lr": lr} for beta in BETAS for lr in LEARNING_RATES],
    "MINE-IB": [{"mi": "mine", "mi_weight": beta, "lr": lr} for beta in BETAS for lr in LEARNING_RATES]
    # Unclipped, β = 0.1 lets the encoder outrun its critic (the estimate diverges); eq. 21's clip bounds the MI
    # gradient by the cross-entropy's, which makes larger β usable.
    + [{"mi": "mine", "mi_weight": beta, "clip": "adaptive", "lr": lr} for beta in (0.1, 1.0) for lr in (1e-3, 3e-3)],
}


def label(method: str, candidate: dict[str, Any]) -> str:
    return f"{method}: " + ", ".join(f"{k}={v}" for k, v in candidate.items() if k != "mi")


def mean_se(values: list[float]) -> tuple[float, float]:
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return statistics.fmean(values), se


def plot_betas(summary: dict[str, dict[str, Any]], chosen: dict[str, dict[str, Any]], path: Path) -> None:
    """Test error and independent ``I(X; Z)`` against β: deep VIB, MINE-IB and MINE-IB with eq. 21's clip, each at
    the learning rate of its best candidate on validation; the chosen deterministic and dropout nets as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    lines = ((VIB, None), ("MINE-IB", None), ("MINE-IB", "adaptive"))
    for color, (method, clip) in enumerate(lines):
        members = [s for s in summary.values() if s["method"] == method and s["candidate"].get("clip") == clip]
        if not members:
            continue
        # Each curve at the learning rate of its best candidate on validation.
        lr = min(members, key=lambda s: s["val_error"][0])["candidate"]["lr"]
        points = sorted(((s["candidate"]["mi_weight"], s) for s in members if s["candidate"]["lr"] == lr),
                        key=lambda point: point[0])  # fmt: skip
        name = f"{method}{', eq. 21 clip' if clip else ''} (lr {lr:g})"
        for ax, key in ((axes[0], "test_error"), (axes[1], "mi_test")):
            ax.errorbar([b for b, _ in points], [s[key][0] for _, s in points], yerr=[s[key][1] for _, s in points],
                        marker="o", capsize=3, color=f"C{color}", label=name)  # fmt: skip
    for method, style in ((BASELINE, "--"), ("dropout", ":")):
        s = next(s for s in summary.values() if s["method"] == method and s["candidate"] == chosen[method])
        for ax, key in ((axes[0], "test_error"), (axes[1], "mi_test")):
            ax.axhline(s[key][0], color="k", linestyle=style, label=f"{method} (chosen)")
    axes[0].set_ylabel("test error (%), log scale")
    axes[0].set_yscale("log")  # the diverged runs (up to 90 %) would flatten the differences that matter
    axes[1].set_ylabel("I(X; Z), nats (independent estimate_mi, test pairs)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("β (mi_weight)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title("tuning seeds; mean ± s.e.; chosen on validation, not on this", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["mnist5k"], default="mnist5k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel, one process each")
    parser.add_argument("--resume", action="store_true", help="keep the CSV's rows of the same configuration")
    args = parser.parse_args()
    config = yaml.safe_load((HERE / "configs" / f"{args.scale}.yaml").read_text())

    start = time.perf_counter() - previous_wall(f"tuning_{args.scale}", args.resume)
    jobs = [(label(m, c), c, seed) for seed in args.seeds for m, cands in GRID.items() for c in cands]
    rows = run_rows(config, jobs, RESULTS / f"tuning_{args.scale}.csv", args.workers, args.resume)
    wall = time.perf_counter() - start

    summary = {}
    for method, candidates in GRID.items():
        for candidate in candidates:
            mine = [r for r in rows if r["variant"] == label(method, candidate)]
            summary[label(method, candidate)] = {
                "method": method,
                "candidate": candidate,
                "seeds": len(mine),
                **{k: mean_se([r[k] for r in mine]) for k in ("val_error", "test_error", "mi_test")},
            }
    chosen = {
        method: min((s for s in summary.values() if s["method"] == method),
                    key=lambda s: (s["val_error"][0], s["mi_test"][0]))["candidate"]
        for method in GRID
    }  # fmt: skip
    lines = [
        "| candidate | val error % (chooses) | test error % (never chooses) | I(X; Z) nats | seeds | chosen |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        cells = [f"{s[k][0]:.2f} ± {s[k][1]:.2f}" for k in ("val_error", "test_error", "mi_test")]
        mark = "**yes**" if chosen[s["method"]] == s["candidate"] else ""
        lines.append(f"| {name} | {' | '.join(cells)} | {s['seeds']} | {mark} |")
    note = (
        f"\n\n{args.scale}, tuning seeds {args.seeds}, {wall / 60:.1f} min (over every sitting of --resume) with "
        f"{args.workers} worker process(es), 1 torch thread each. Mean ± standard error over seeds. Per method, "
        "the lowest mean validation error wins (ties: lower I(X; Z)).\n\nChosen (the rows of run.py):\n\n"
        + "\n".join(f"- {method}: `{candidate}`" for method, candidate in chosen.items())
        + "\n"
    )
    (RESULTS / f"tuning_{args.scale}.md").write_text("\n".join(lines) + note)
    complete = all(s["seeds"] == len(args.seeds) for s in summary.values())
    if complete:  # a partial sitting chooses nothing
        chosen_path(args.scale).write_text(json.dumps(chosen, indent=2) + "\n")
    plot_betas(summary, chosen, RESULTS / f"beta_{args.scale}.png")
    write_meta(RESULTS, f"tuning_{args.scale}", wall, seeds=args.seeds, config={"config": config, "grid": GRID})
    print("\n".join(lines) + note)


if __name__ == "__main__":
    main()
