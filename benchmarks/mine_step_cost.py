"""Cost of MINE's generator term on the Stacked MNIST YAMLs: a GAN+MINE iteration against a plain GAN iteration.

Every measurement is a real ``python -m mine_gan fit`` of ``experiments/stacked_digits/gan.yaml`` or
``gan_mine.yaml`` in a subprocess (the networks, batch and data users train), timed per training iteration after
a warm-up by ``benchmarks/_iteration_timer.py`` (no validation, pictures or checkpoints). The runs are interleaved
over ``--repeats`` rounds and the median is reported, so a machine whose load drifts affects every row alike;
the ratio ``GAN+MINE / GAN`` is taken within one script run, on the wall time and on the process's CPU time (with
one thread, the work itself: on a machine shared with other jobs the wall time also counts the waiting).
``--baseline REF`` times both YAMLs at another commit too (checked out with ``git worktree`` under a temporary
folder), to show what a change to the MINE step saved. ``--critic-widths`` adds GAN+MINE rows whose statistics
network is a :class:`~mine_gan.estimators.ConvCritic` of that ``base_channels`` instead of the default one.

Writes ``benchmarks/results/mine_step_cost.txt`` and ``mine_step_cost_meta.json`` (commit, command, load).

    python benchmarks/mine_step_cost.py --baseline 46ca7a7 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STACKED = ROOT / "experiments" / "stacked_digits"
sys.path.insert(0, str(ROOT / "benchmarks"))
from _iteration_timer import IterationTime, checkout, time_fit, timing_meta  # noqa: E402


def critic_overrides(config: Path, base_channels: int) -> list[str]:
    """Overrides that give ``config``'s InfoGAN a ConvCritic of ``base_channels`` on its images and code."""
    model = yaml.safe_load(config.read_text())["model"]["init_args"]
    data = yaml.safe_load(config.read_text())["data"]["init_args"]
    code_dim = int(model.get("continuous_dim", 0)) + sum(int(k) for k in model.get("categorical_dims", []))
    z_dim = code_dim if model.get("mi_target", "code") == "code" else code_dim + int(model["noise_dim"])
    args = {"in_channels": 3, "image_size": int(data["image_size"]), "z_dim": z_dim, "base_channels": base_channels}
    return ["--model.init_args.critic=mine_gan.estimators.ConvCritic"] + [
        f"--model.init_args.critic.init_args.{k}={v}" for k, v in args.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=170, help="training iterations per run")
    parser.add_argument("--warmup", type=int, default=20, help="iterations not timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baseline", default=None, help="a commit whose two YAMLs are timed too")
    parser.add_argument("--critic-widths", type=int, nargs="*", default=[], help="ConvCritic base_channels to add")
    args = parser.parse_args()
    start = time.time()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    gan, gan_mine = STACKED / "gan.yaml", STACKED / "gan_mine.yaml"
    # (label, source, config, extra overrides)
    rows: list[tuple[str, Path, Path, list[str]]] = [
        ("this commit: gan.yaml", ROOT, gan, []),
        ("this commit: gan_mine.yaml", ROOT, gan_mine, []),
    ]
    rows += [(f"this commit: gan_mine.yaml, ConvCritic base_channels={w}", ROOT, gan_mine,
              critic_overrides(gan_mine, w)) for w in args.critic_widths]  # fmt: skip
    loads: list[float] = []
    with checkout(args.baseline) as baseline_dir:
        if baseline_dir is not None:
            rows += [(f"baseline {args.baseline}: gan.yaml", baseline_dir, gan, []),
                     (f"baseline {args.baseline}: gan_mine.yaml", baseline_dir, gan_mine, [])]  # fmt: skip
        times: dict[int, list[IterationTime]] = {i: [] for i in range(len(rows))}
        for _ in range(args.repeats):
            for i, (_, source, config, extra) in enumerate(rows):
                loads.append(os.getloadavg()[0])
                times[i].append(time_fit(config, source, threads=args.threads, batches=args.batches,
                                         warmup=args.warmup, extra=extra))  # fmt: skip
    wall = {i: statistics.median(t.wall for t in ts) for i, ts in times.items()}
    cpu = {i: statistics.median(t.cpu for t in ts) for i, ts in times.items()}
    plain = {rows[i][1]: i for i in times if rows[i][2] == gan}
    lines = [
        f"mine-gan fit of experiments/stacked_digits/*.yaml, {args.batches - args.warmup} timed iterations per run, "
        f"{args.threads} thread(s), median of {args.repeats} interleaved rounds; load average during the runs "
        f"{min(loads):.1f}-{max(loads):.1f}; commit {commit[:7]}",
        "",
        "| code: config | wall ms / iteration | CPU ms / iteration | wall vs gan.yaml | CPU vs gan.yaml |",
        "|---|---|---|---|---|",
    ]
    for i, (label, source, _, _) in enumerate(rows):
        base = plain[source]
        lines.append(f"| {label} | {1e3 * wall[i]:.1f} | {1e3 * cpu[i]:.1f} | {wall[i] / wall[base]:.2f}x | "
                     f"{cpu[i] / cpu[base]:.2f}x |")  # fmt: skip
    every = {rows[i][0]: [(round(1e3 * t.wall, 1), round(1e3 * t.cpu, 1)) for t in v] for i, v in times.items()}
    lines += ["", "(vs gan.yaml: against the plain GAN of the same code, in the same script run)", "",
              "all runs (wall, CPU ms / iteration): " + json.dumps(every)]  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mine_step_cost.txt").write_text(text)
    meta = timing_meta(start, loads)
    (RESULTS / "mine_step_cost_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
