"""Choose GAN+MINE's setting in the collapse regime, and the plain GAN's learning rate, on TUNING seeds (100+).

The scored seeds of ``study.py`` (0-9) are never used here. Every candidate is one of the study's YAMLs
(``gan_mine_small_d.yaml`` for GAN+MINE, ``gan_small_d.yaml`` for the plain GAN) with one factor changed at a time
around it (the YAML itself is the first candidate), trained as ``study.py`` trains (``mine-gan fit --config <yaml>
--seed_everything=<seed>``, one process per seed, ``--iterations`` long, 20,000 by default: the study's length)
and scored at the end the same way (26,000 stacks, modes, KL, confident share, Fréchet distance). The factors, from
issue 25:

* GAN+MINE: the code's form (one categorical code of 10, three of 10, against the YAML's 10 continuous dims),
  the entropy form ``mi_target: latent`` (I(G(z); z)), β (``mi_weight`` 0.3, 3, 10: with eq. 21's clip β caps the
  MI gradient at β‖g_u‖), no clip, the critic's learning rate (``lr_mi`` 1e-4, 1e-3) and width (``ConvCritic``
  ``base_channels`` 8 and 64 against the default 32). The critic's number of steps per generator step is not a
  setting of ``InfoGAN`` and is not searched.
* The plain GAN: the learning rate of G and D together (1e-4, 5e-4 against the YAML's 2e-4), so the baseline the
  study compares with is tuned too.

The rule, within each family, on the means over the tuning seeds:

1. quality must not pay for coverage: a candidate is eligible only if its Fréchet distance is at most 1.25× that
   of the family's YAML and its confident share at most 5 points below the YAML's;
2. among the eligible, the lowest KL to uniform wins (the KL counts both the modes missed and how unevenly the
   rest are hit); more modes break a tie.

Mode count alone would rank on the classifier's guesses: it labels any channel, noise included, and a generator
of coloured blobs can spread its guesses over many triples; KL, the confident share and the Fréchet distance
(``real`` ≈ 3, uniform noise ≈ 1,700) say whether they are digits.

Resumable: each (candidate, seed) row is written when it finishes, a rerun skips rows of the same configuration
and resumes an interrupted run from its ``last.ckpt`` under ``runs/stacked_digits_tune/``.

    python experiments/stacked_digits/tune.py --estimate 200     # time 200 batches of each YAML, print the costs
    python experiments/stacked_digits/tune.py                    # seeds 100 101, 20,000 iterations, 2 jobs
    python experiments/stacked_digits/study.py --tuned experiments/stacked_digits/results/tuning/tune_collapse.json

Writes ``results/tuning/tune_collapse.{csv,md,json}`` (the JSON holds the winners' overrides, which ``study.py
--tuned`` reads) and ``results/tuning/meta_tune_collapse.json``: a folder of its own, since the tuning's rows are
candidates, not the variants ``experiments/make_results.py`` tables.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import REPOSITORY, StudyRows, config_hash, quiet, write_meta  # noqa: E402
from study import (  # noqa: E402
    CONFIGS,
    EVAL_SAMPLES,
    GAN,
    ITERATIONS,
    MINE,
    RESULTS,
    estimate,
    job_digest,
    study_cost,
    train_row,
)

RUNS = REPOSITORY / "runs" / "stacked_digits_tune"
IMAGE = {"in_channels": 3, "image_size": 28}
_CRITIC = "--model.init_args.critic=mine_gan.estimators.ConvCritic"


def critic(base_channels: int, z_dim: int = 10) -> list[str]:
    """Overrides giving GAN+MINE a ``ConvCritic`` of ``base_channels`` on the YAML's 10-dim code."""
    args = {**IMAGE, "z_dim": z_dim, "base_channels": base_channels}
    return [_CRITIC, *(f"--model.init_args.critic.init_args.{k}={v}" for k, v in args.items())]


#: family -> candidate name -> overrides; the first of each family is its YAML as it is
CANDIDATES: dict[str, dict[str, list[str]]] = {
    MINE: {
        "GAN+MINE (the YAML)": [],
        "code: 1 categorical of 10": ["--model.init_args.categorical_dims=[10]", "--model.init_args.continuous_dim=0"],
        "code: 3 categorical of 10": [
            "--model.init_args.categorical_dims=[10, 10, 10]",
            "--model.init_args.continuous_dim=0",
        ],
        "entropy form (mi_target=latent)": ["--model.init_args.mi_target=latent"],
        "mi_weight=0.3": ["--model.init_args.mi_weight=0.3"],
        "mi_weight=3": ["--model.init_args.mi_weight=3.0"],
        "mi_weight=10": ["--model.init_args.mi_weight=10.0"],
        "no clip": ["--model.init_args.clip=null"],
        "lr_mi=1e-4": ["--model.init_args.lr_mi=0.0001"],
        "lr_mi=1e-3": ["--model.init_args.lr_mi=0.001"],
        "critic base_channels=8": critic(8),
        "critic base_channels=64": critic(64),
    },
    GAN: {
        "GAN (the YAML)": [],
        "lr=1e-4": ["--model.init_args.lr_g=0.0001", "--model.init_args.lr_d=0.0001"],
        "lr=5e-4": ["--model.init_args.lr_g=0.0005", "--model.init_args.lr_d=0.0005"],
    },
}
FRECHET_RATIO = 1.25
CONFIDENT_DROP = 5.0


def choose(summary: dict[str, dict[str, float]], reference: str) -> str | None:
    """The rule of the module's docstring: the winner among ``summary`` (candidate -> mean figures).

    Example:
        >>> summary = {"yaml": {"modes": 500, "kl": 2.0, "confident_pct": 20, "frechet": 400},
        ...            "noisy": {"modes": 900, "kl": 0.8, "confident_pct": 10, "frechet": 1200},
        ...            "better": {"modes": 700, "kl": 1.2, "confident_pct": 21, "frechet": 450}}
        >>> choose(summary, "yaml")
        'better'
    """
    if reference not in summary:
        return None
    base = summary[reference]
    eligible = {
        name: s
        for name, s in summary.items()
        if s["frechet"] <= FRECHET_RATIO * base["frechet"]
        and s["confident_pct"] >= base["confident_pct"] - CONFIDENT_DROP
    }
    return min(eligible, key=lambda name: (eligible[name]["kl"], -eligible[name]["modes"]))


def summarize(rows: Sequence[dict[str, Any]], seeds: Sequence[int]) -> dict[str, dict[str, dict[str, float]]]:
    """family -> candidate -> mean figures over ``seeds``, for candidates finished on every seed."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for family, candidates in CANDIDATES.items():
        for name in candidates:
            rs = [r for r in rows if r["candidate"] == name and int(r["seed"]) in seeds]
            if len(rs) == len(seeds):
                out.setdefault(family, {})[name] = {
                    k: statistics.fmean(float(r[k]) for r in rs) for k in ("modes", "kl", "confident_pct", "frechet")
                } | {"min_modes": min(float(r["modes"]) for r in rs)}
    return out


def report(rows: Sequence[dict[str, Any]], seeds: Sequence[int], iterations: int) -> tuple[str, dict[str, Any]]:
    """The table and the winners (``{family: {"candidate", "overrides"}}``)."""
    summary = summarize(rows, seeds)
    lines = [
        f"Tuning in the Stacked MNIST collapse regime, seeds {list(seeds)}, {iterations:,} iterations; means over "
        f"seeds. Rule: Fréchet ≤ {FRECHET_RATIO}× and confident share ≥ −{CONFIDENT_DROP:g} points of the family's "
        "YAML, then the lowest KL, then the most modes.",
        "",
        "| family | candidate | modes | min modes | KL | confident % | Fréchet | s / iteration |",
        "|---|---|---|---|---|---|---|---|",
    ]
    winners = {}
    for family, members in summary.items():
        for name, s in members.items():
            speed = statistics.fmean(float(r["seconds_per_iteration"]) for r in rows if r["candidate"] == name)
            lines.append(
                f"| {family} | {name} | {s['modes']:.0f} | {s['min_modes']:.0f} | {s['kl']:.3f} | "
                f"{s['confident_pct']:.1f} | {s['frechet']:.0f} | {speed:.4f} |"
            )
        best = choose(members, next(iter(CANDIDATES[family])))
        if best is not None:
            winners[family] = {"candidate": best, "overrides": CANDIDATES[family][best]}
    lines.append("")
    lines += [f"chosen {family}: {w['candidate']}" for family, w in winners.items()]
    plain = [r for r in rows if r["candidate"] == next(iter(CANDIDATES[GAN]))]
    if plain:
        lines.append(
            "the plain GAN (its YAML) per tuning seed: "
            + ", ".join(f"seed {r['seed']}: {r['modes']} modes, KL {float(r['kl']):.2f}" for r in plain)
        )
    return "\n".join(lines), winners


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    p.add_argument("--iterations", type=int, default=ITERATIONS)
    p.add_argument("--eval-samples", type=int, default=EVAL_SAMPLES)
    p.add_argument("--families", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    p.add_argument("--candidates", nargs="+", help="train only these candidates (names as in the table)")
    p.add_argument("--jobs", type=int, default=2, help="runs at once, one CPU thread each")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--overrides", action="extend", nargs="*", default=[], help="CLI overrides for every run, as --overrides=--k=v"
    )
    p.add_argument("--name", default="tune_collapse")
    p.add_argument("--results", type=Path, default=RESULTS / "tuning")
    p.add_argument("--runs", type=Path, default=RUNS)
    p.add_argument("--estimate", type=int, metavar="BATCHES", help="only time BATCHES batches per YAML, print costs")
    args = p.parse_args()
    if min(args.seeds) < 100:
        raise SystemExit(f"tuning seeds must be >= 100 (0-9 are the study's), got {args.seeds}")
    quiet()
    import torch

    torch.set_num_threads(args.threads)
    if args.estimate:
        seconds = estimate(args.estimate, args.runs, args.threads)
        runs = {family: len(CANDIDATES[family]) * len(args.seeds) for family in args.families}
        train = sum(runs[f] * seconds[f] * args.iterations for f in runs)
        score = 30.0 * sum(runs.values())  # one 26,000-stack scoring per run, about 30 s of one CPU
        print(
            f"tuning, {sum(runs.values())} runs of {args.iterations:,} iterations ({runs}): "
            f"{(train + score) / 3600:.1f} CPU-hours ({(train + score) / 7200:.1f} h with --jobs 2 on 2 idle cores); "
            "the critic of base_channels 64 costs more than the rest"
        )
        print(study_cost(seconds, 5, ITERATIONS, 3, score_seconds=30.0))
        return

    start = time.perf_counter()
    ledger = StudyRows(args.results / f"{args.name}.csv", key=("candidate", "seed"))
    jobs = []
    for family in args.families:
        for name, extra in CANDIDATES[family].items():
            if args.candidates is None or name in args.candidates:
                jobs += [(family, name, [*args.overrides, *extra], seed) for seed in args.seeds]

    def run(family: str, name: str, overrides: list[str], seed: int) -> None:
        digest = job_digest(CONFIGS[family], overrides, args.iterations, [])
        row_digest = config_hash({"run": digest, "eval_samples": args.eval_samples})[:12]
        if ledger.done(name, seed, config=row_digest) is not None:
            return
        run_dir = args.runs / digest / f"seed_{seed}"
        row = train_row(
            family, CONFIGS[family], seed, run_dir, overrides, args.iterations, [], args.eval_samples, args.threads
        )
        ledger.add({"candidate": name, "family": row.pop("variant"), **row, "overrides": " ".join(overrides),
                    "config": row_digest})  # fmt: skip
        print(f"{name} seed {seed}: {row['modes']} modes, KL {row['kl']:.3f}, Fréchet {row['frechet']:.0f}", flush=True)

    failures = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run, *job): job for job in jobs}
        for future, job in futures.items():
            try:
                future.result()
            except Exception as error:  # noqa: BLE001 - the other candidates are still worth having
                failures.append(f"{job[1]} seed {job[3]}: {error}")
                print(f"FAILED {job[1]} seed {job[3]}: {error}", flush=True)
    current = {(r["candidate"], int(r["seed"])) for r in ledger.rows}
    # Complete: every candidate of the families on every seed, not only those asked for by --candidates.
    wanted = [(name, seed) for family in args.families for name in CANDIDATES[family] for seed in args.seeds]
    complete = not failures and all(key in current for key in wanted)
    text, winners = report(ledger.rows, args.seeds, args.iterations)
    text += "\n\n" + ("Complete." if complete else "PARTIAL: candidates still to run.")
    (args.results / f"{args.name}.md").write_text(text + "\n")
    chosen = {"winners": winners, "seeds": args.seeds, "iterations": args.iterations, "complete": complete}
    (args.results / f"{args.name}.json").write_text(json.dumps(chosen, indent=2) + "\n")
    write_meta(
        args.results,
        args.name,
        time.perf_counter() - start,
        seeds=args.seeds,
        config={"candidates": CANDIDATES, "iterations": args.iterations, "eval_samples": args.eval_samples},
        extra={"complete": complete, "failures": failures},
    )
    print(text)


if __name__ == "__main__":
    main()
