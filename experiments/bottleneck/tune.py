"""Choose every bottleneck row's settings on the validation split, never on test.

Search spaces (:func:`spaces`): the deterministic net and dropout have small grids, searched whole (3 and 6
candidates: they have nothing else to tune). The two regularizers get the **same number of candidates**
(``--candidates``, 8 by default: 58 CPU-minutes projected by ``--estimate-cost``; 10 would be 71),
drawn at random from their spaces by a fixed stream (random search, Bergstra & Bengio, JMLR 2012: with as many
draws, a larger space is searched as well in each of the dimensions that matter):

* deep VIB: β log-uniform in [1e-4, 1e-1], learning rate in {3e-4, 1e-3, 3e-3};
* MINE-IB: the same β and learning rates, plus its critic's own training: ``mi_steps`` in {1, 2, 5} critic steps
  per encoder step, its own Adam at ``lr_mi`` log-uniform in [1e-4, 3e-3] (not decayed), width
  ``critic_hidden_dims`` in {[256], [512, 512]}, marginal pool ``mi_shuffles`` in {1, 4}, and eq. 21's clip or none.

Every candidate trains on the tuning seeds 100-101, disjoint from the seeds ``run.py`` reports, is scored at its
best epoch on validation (the rule of every row, ``best_epoch.py``), and each method keeps the candidate with the
lowest mean **validation** error, ties broken by the lower ``I(X; Z)``. Test error is recorded for the β plot
(``results/beta_<scale>.png``) but never chooses anything. The winners go to
``results/tuning_<scale>_chosen.json``, the rows ``run.py`` trains.

    python experiments/bottleneck/tune.py --resume        # mnist5k, seeds 100-101, 2 processes; resumable
    python experiments/bottleneck/tune.py --estimate-cost # time one short run per candidate, print the cost, stop
"""

from __future__ import annotations

import argparse
import json
import math
import random
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
from run import (  # noqa: E402
    BASELINE,
    VIB,
    add_smoke_arguments,
    chosen_path,
    estimate_cost,
    previous_wall,
    run_rows,
)

LEARNING_RATES = (3e-4, 1e-3, 3e-3)
BETA_RANGE = (1e-4, 1e-1)
MINE = "MINE-IB"
# The fixed stream of the random search: the same --candidates draw the same candidates (what --resume needs).
SEARCH_SEED = 30


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    """One draw, rounded to 2 significant digits so that labels stay readable."""
    return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.2g}")


def vib_candidate(rng: random.Random) -> dict[str, Any]:
    return {"mi": "vib", "mi_weight": _log_uniform(rng, *BETA_RANGE), "lr": rng.choice(LEARNING_RATES)}


def mine_candidate(rng: random.Random) -> dict[str, Any]:
    """VIB's β and learning rates, plus the critic's own training (``InformationBottleneck`` arguments)."""
    candidate = {"mi": "mine", "mi_weight": _log_uniform(rng, *BETA_RANGE), "lr": rng.choice(LEARNING_RATES)}
    candidate.update(
        mi_steps=rng.choice((1, 2, 5)),
        lr_mi=_log_uniform(rng, 1e-4, 3e-3),
        critic_hidden_dims=rng.choice(([256], [512, 512])),
        mi_shuffles=rng.choice((1, 4)),
    )
    if rng.random() < 0.5:  # eq. 21 bounds the MI gradient by the cross-entropy's
        candidate["clip"] = "adaptive"
    return candidate


def spaces(candidates: int) -> dict[str, list[dict[str, Any]]]:
    """Candidates per method (``InformationBottleneck`` arguments overriding the config's model).

    The deterministic net and dropout: their whole grid. Deep VIB and MINE-IB: ``candidates`` random draws each
    from one fixed stream per method, so adding draws keeps the earlier ones.
    """
    if candidates < 1:
        raise ValueError(f"`--candidates` must be >= 1, got {candidates}")
    vib_rng, mine_rng = random.Random(SEARCH_SEED), random.Random(SEARCH_SEED + 1)
    return {
        BASELINE: [{"mi_weight": 0.0, "lr": lr} for lr in LEARNING_RATES],
        "dropout": [{"mi_weight": 0.0, "dropout": p, "lr": lr} for p in (0.2, 0.5) for lr in LEARNING_RATES],
        VIB: [vib_candidate(vib_rng) for _ in range(candidates)],
        MINE: [mine_candidate(mine_rng) for _ in range(candidates)],
    }


def label(method: str, candidate: dict[str, Any]) -> str:
    return f"{method}: " + ", ".join(f"{k}={v}" for k, v in candidate.items() if k != "mi")


def mean_se(values: list[float]) -> tuple[float, float]:
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return statistics.fmean(values), se


def plot_betas(summary: dict[str, dict[str, Any]], chosen: dict[str, dict[str, Any]], path: Path) -> None:
    """Test error and independent ``I(X; Z)`` against β, one point per candidate of deep VIB and MINE-IB (mean over
    the tuning seeds; MINE-IB's with eq. 21's clip hollow); the chosen deterministic and dropout nets as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for color, method in enumerate((VIB, MINE)):
        members = [s for s in summary.values() if s["method"] == method]
        for ax, key in ((axes[0], "test_error"), (axes[1], "mi_test")):
            for clip in (False, True):
                points = [s for s in members if bool(s["candidate"].get("clip")) == clip]
                if not points:
                    continue
                ax.errorbar([s["candidate"]["mi_weight"] for s in points], [s[key][0] for s in points],
                            yerr=[s[key][1] for s in points], fmt="o", capsize=3, color=f"C{color}",
                            mfc="none" if clip else f"C{color}",
                            label=f"{method}{', eq. 21 clip' if clip else ''}")  # fmt: skip
    for method, style in ((BASELINE, "--"), ("dropout", ":")):
        s = next(s for s in summary.values() if s["method"] == method and s["candidate"] == chosen[method])
        for ax, key in ((axes[0], "test_error"), (axes[1], "mi_test")):
            ax.axhline(s[key][0], color="k", linestyle=style, label=f"{method} (chosen)")
    axes[0].set_ylabel("test error (%), log scale")
    axes[0].set_yscale("log")  # diverged runs (up to 90 %) would flatten the differences that matter
    axes[1].set_ylabel("I(X; Z), nats (independent estimate_mi, test pairs)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("β (mi_weight)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_title("tuning seeds; each candidate at its best epoch; chosen on validation, not on this", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["mnist5k"], default="mnist5k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel, one process each")
    parser.add_argument("--resume", action="store_true", help="keep the CSV's rows of the same configuration")
    parser.add_argument("--candidates", type=int, default=8, help="random draws for each of deep VIB and MINE-IB")
    parser.add_argument(
        "--estimate-cost", action="store_true", help="time one short run per candidate, print the projected cost, stop"
    )
    add_smoke_arguments(parser)
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config or HERE / "configs" / f"{args.scale}.yaml").read_text())
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    GRID = spaces(args.candidates)

    start = time.perf_counter() - previous_wall(f"tuning_{args.scale}", args.resume, results)
    jobs = [(label(m, c), c, seed) for seed in args.seeds for m, cands in GRID.items() for c in cands]
    if args.estimate_cost:
        print(estimate_cost(config, jobs, args.workers))
        return
    rows = run_rows(config, jobs, results / f"tuning_{args.scale}.csv", args.workers, args.resume)
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
        f"{args.workers} worker process(es), 1 torch thread each. Mean ± standard error over seeds, each run at its "
        f"best epoch on validation. {args.candidates} random candidates each for deep VIB and MINE-IB (search "
        f"seed {SEARCH_SEED}); the whole grid for the others. Per method, "
        "the lowest mean validation error wins (ties: lower I(X; Z)).\n\nChosen (the rows of run.py):\n\n"
        + "\n".join(f"- {method}: `{candidate}`" for method, candidate in chosen.items())
        + "\n"
    )
    (results / f"tuning_{args.scale}.md").write_text("\n".join(lines) + note)
    complete = all(s["seeds"] == len(args.seeds) for s in summary.values())
    if complete:  # a partial sitting chooses nothing
        chosen_path(args.scale, results).write_text(json.dumps(chosen, indent=2) + "\n")
    plot_betas(summary, chosen, results / f"beta_{args.scale}.png")
    write_meta(
        results, f"tuning_{args.scale}", wall, seeds=args.seeds,
        config={"config": config, "grid": GRID, "candidates": args.candidates, "search_seed": SEARCH_SEED},
    )  # fmt: skip
    print("\n".join(lines) + note)


if __name__ == "__main__":
    main()
