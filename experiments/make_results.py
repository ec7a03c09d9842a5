"""Collect every ``experiments/*/results/*.md`` table into ``experiments/RESULTS.md``, beside the paper's numbers.

Nothing here is typed by hand: the tables are the scripts' own files, the command, scale, machine and wall
time come from each table's ``meta_<scale>.json`` (written by :mod:`harness`), the paper's numbers are parsed from
the reference table of ``shared/DESIGN.md`` (or ``--design``), and the comparison sentences (mean difference
over paired seeds with a 95 % t-interval, :func:`harness.paired_comparison`) are computed from the scripts' CSV
files.

Every table is checked against git: one made at a commit before the last change to the code it depends on
(:func:`harness.dependency_paths`), made with uncommitted changes to that code, or without a recorded commit
is marked as such, above the table and in the list at the top.

    python experiments/make_results.py            # rewrites experiments/RESULTS.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness import dependency_paths, git, paired_comparison  # noqa: E402

DESIGN_CANDIDATES = [HERE.parent / "shared" / "DESIGN.md", HERE.parent.parent / "shared" / "DESIGN.md"]
# The reference table as last extracted from DESIGN.md, kept in the repository for machines without the notes.
PAPER_TABLE = HERE / "paper_numbers.md"

# experiment folder -> (title, first words of its row in DESIGN.md's reference table, or None)
EXPERIMENTS: dict[str, tuple[str, str | None]] = {
    "gaussian_mi": ("MI of correlated Gaussians (paper Fig. 1)", "Gaussians"),
    "equitability": ("Equitability (paper Fig. 2)", "Equitability"),
    "mode_dropping": ("Mode dropping on 25 Gaussians and the 8-Gaussian ring (paper §5.1, Fig. 3)", None),
    "stacked_digits": ("Stacked digits, 1,000 modes (paper Table 1)", "Stacked MNIST"),
    "bigan_digits": ("ALI vs ALI+MINE reconstructions (paper Table 2)", "ALI reconstruction"),
    "bottleneck": ("Information bottleneck (paper Table 3)", "IB"),
}

WHY_DIFFERENT = {
    "mode_dropping": "The paper shows Fig. 3 as scatter plots only (no table). Our runs are short CPU runs of small "
    "MLPs, far from converged (blurry modes, few high-quality samples, most at the `small` scale); read the "
    "comparison between rows of one table, not absolute values, and prefer the scale with the most seeds. With a "
    "10-way code each category becomes a curve through a row or column of modes (see the grid scatter plot), and "
    "the bridges between modes cost high-quality samples.",
    "stacked_digits": "The paper uses Stacked MNIST at 28×28 with DCGAN-size nets trained to convergence and an "
    "MNIST classifier; offline we stack scikit-learn's 1,797 8×8 digits upsampled to 16×16 (far fewer distinct "
    "digit images per class), with small DCGANs trained for minutes on a CPU (the `full` scale, 50 epochs of "
    "128,000 stacks, is for a GPU), so absolute modes/KL are not comparable. The discriminator is a quarter of "
    "the generator's width, the regime of Metz et al. (2017) and PacGAN in which a plain DCGAN collapses. The "
    "classifier names a digit for every channel, noise included, so the mode count is read with the share of "
    "confidently labelled channels and the Fréchet distance in the classifier's features; their values on "
    "held-out real digits are the last row of the newer tables. A run far from those values has not learned "
    "digits, whatever its mode count (look at the sample grids).",
    "bigan_digits": "The paper's ALI/ALICE/ALI+MINE run on MNIST at 28×28 for many epochs; ours on 16×16 "
    "scikit-learn digits (a few hundred test digits) for minutes; the `cpu` scale of the configs (10 epochs) "
    "is too short for either model to learn to reconstruct (accuracy near the 10 % of chance), hence the "
    "`full` run. Our reconstruction error is a Euclidean norm on [-1, 1] pixels of 16×16 images and our "
    "MS-SSIM uses 3 scales with a 3×3 window, so neither is on the paper's scale. Tables made before the "
    "encoder's σ was fixed below 1 (σ = 1, the old default) put ALI's adversarial term against the MI term: "
    "matching q(z) to N(0, I) needs Cov μ(x) = (1 − σ²)I, i.e. a constant μ at σ = 1.",
    "bottleneck": "5,000 real MNIST digits (3,500 train / 500 val / 1,000 test; one test digit is 0.1 points "
    "of error), not the 60,000 of the paper; the paper's 784-1024-1024-(256) encoder halved to 784-512-512-(128) "
    "and 40 epochs instead of 200, for one CPU thread. Every method's β, dropout rate and learning rate were chosen "
    "on the validation split over tuning seeds 100-101 (`tuning_mnist5k.md`). Measured here, against the paper: deep "
    "VIB beats the deterministic net and MINE-IB does not (nor VIB); minimizing MINE's lower bound moves I(X; Z) "
    "little until the encoder outruns its critic and training collapses (the β plot). The paper's regime is the "
    "`mnist` config, for a GPU.",
}


def design_path(given: Path | None) -> Path | None:
    for path in [given] if given else DESIGN_CANDIDATES:
        if path is not None and path.exists():
            return path
    return None


def paper_rows(design: Path | None) -> dict[str, str]:
    """``{first column: paper's numbers}`` from the ``## Reference results`` table of DESIGN.md.

    The table is copied to ``paper_numbers.md``, which is read instead when DESIGN.md is not around.
    """
    source = design if design is not None else (PAPER_TABLE if PAPER_TABLE.exists() else None)
    if source is None:
        return {}
    rows, inside, table, budgets = {}, source == PAPER_TABLE, [], []
    for line in source.read_text().splitlines():
        if line.startswith("## "):
            inside = line.startswith("## Reference results")
        elif inside and line.startswith("|"):
            table.append(line)
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) >= 2 and cells[0] != "experiment" and not cells[0].startswith("---"):
                rows[cells[0]] = cells[1]
        elif inside and table and line.strip():
            budgets.append(line)  # the notes under the table: the anchors' budgets (PacGAN's 400,000 updates, ...)
    if design is not None and table:
        PAPER_TABLE.write_text(
            "## Reference results\n\nThe MINE paper's numbers, extracted from the design notes by "
            "`experiments/make_results.py`.\n\n" + "\n".join(table) + "\n\n" + "\n".join(budgets) + "\n"
        )
    return rows


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def _compare(
    rows: list[dict[str, str]], baseline: str, variant: str, metrics: dict[str, bool], within: str | None = None
) -> list[str]:
    """Paired-over-seeds sentences ``variant`` against ``baseline`` per metric; ``metrics[name]`` = higher is better."""
    out = []
    scopes = sorted({r[within] for r in rows}) if within else [None]
    for scope in scopes:
        rs = [r for r in rows if within is None or r[within] == scope]
        names = {r["variant"] for r in rs}
        if baseline not in names or variant not in names:
            continue
        prefix = f"{scope}: " if scope else ""
        out += [prefix + paired_comparison(rs, metric, higher, baseline, variant) for metric, higher in metrics.items()]
    return out


IB_METRICS = {"test_error": False, "mi_test": False}  # lower is better for both: error, and I(X; Z) in a bottleneck

COMPARISONS: dict[str, Callable[[list[dict[str, str]]], list[str]]] = {
    "mode_dropping": lambda rows: (
        _compare(rows, "GAN", "GAN+MINE", {"modes": True, "high_quality_pct": True, "kl": False}, within="layout")
        + _compare(rows, "GAN+MINE (no clip)", "GAN+MINE", {"modes": True, "kl": False}, within="layout")
    ),
    "stacked_digits": lambda rows: _compare(
        rows,
        "GAN",
        "GAN+MINE",
        # The quality columns only in tables made since the script measured them.
        {"modes": True, "kl": False, **({"confident_pct": True, "frechet": False} if "frechet" in rows[0] else {})},
    ),
    "bottleneck": lambda rows: [
        sentence
        for baseline, variant in (("deterministic", "MINE-IB"), ("deep VIB", "MINE-IB"), ("deterministic", "deep VIB"))
        for sentence in _compare(rows, baseline, variant, IB_METRICS)
    ],
    "bigan_digits": lambda rows: [
        sentence
        for baseline in ("ALI", "ALI, no D penalty")  # the second only in tables that ran it
        for sentence in _compare(
            rows, baseline, "ALI+MINE", {"recon_error": False, "recon_accuracy_pct": True, "ms_ssim": True}
        )
    ],
}


def _blob(commit: str, path: str) -> str | None:
    """Blob hash of ``path`` at ``commit`` (``None`` when the file is not there)."""
    return git("rev-parse", "--verify", "--quiet", f"{commit}:{path}") or None


def provenance_marks(name: str, table: Path, meta: dict | None) -> list[str]:
    """Warnings for a table the repository's code may no longer produce (empty when it is current).

    Stale: a file the experiment depends on differs between the code that made the table and HEAD. That code
    is the recorded commit plus the uncommitted files recorded with their blob hashes, so a file committed
    unchanged after the run does not count. Older meta files list uncommitted files without hashes, and the
    oldest record no commit: then the commit that last wrote the table stands in (the code ran at that commit
    or before), and a change after it still proves the table stale.
    """
    paths = dependency_paths(name)
    marks = []
    made_at = (meta or {}).get("commit")
    if meta is None:
        marks.append(
            "**No meta file:** the command, commit, seeds and wall time of this table were not recorded, so it "
            "cannot be tied to the code."
        )
    elif made_at is None:
        marks.append("**Provenance not recorded:** its meta file predates commits and config hashes.")
    reference = made_at or git("log", "-1", "--format=%H", "--", str(table.relative_to(HERE.parent)))
    uncommitted = (meta or {}).get("uncommitted") or {}
    hashed = isinstance(uncommitted, dict)
    if reference:
        candidates = set(git("diff", "--name-only", reference, "HEAD", "--", *paths).split()) | set(uncommitted)
        ran = {p: (uncommitted[p] if hashed and p in uncommitted else _blob(reference, p)) for p in candidates}
        known = [p for p in candidates if hashed or p not in uncommitted]  # old metas: contents not recorded
        changed = sorted(p for p in known if ran[p] != _blob("HEAD", p))
        if changed:
            what = "made at" if made_at else "committed in"
            marks.append(
                f"**Stale:** {what} `{reference[:7]}`; the code it depends on differs at HEAD in "
                + ", ".join(f"`{c}`" for c in changed)
                + ". Rerun the command."
            )
    if uncommitted and not hashed:
        marks.append(
            "**Ran on uncommitted code:** " + ", ".join(f"`{u}`" for u in uncommitted) + " differed from the "
            "recorded commit (contents not recorded)."
        )
    return marks


def describe_meta(meta: dict) -> list[str]:
    """The command, provenance and machine lines of a table's meta file."""
    lines = [
        f"**Command:** `{meta['command']}` (scale `{meta['scale']}`), wall time "
        f"{meta['wall_seconds'] / 60:.1f} min, finished {meta.get('finished', '?')}."
    ]
    if meta.get("commit"):
        config = meta.get("config_sha256")
        moved = f" (HEAD moved to `{meta['commit_at_end'][:7]}` during the run)" if meta.get("commit_at_end") else ""
        lines.append(
            f"**Code:** commit `{meta['commit'][:7]}` at the start{moved}, resolved config SHA-256 "
            f"`{config[:12] if config else 'none'}`, seeds {meta.get('seeds')}."
        )
    lines.append(f"**Machine:** {meta['machine']}.")
    return lines


def section(name: str, title: str, paper_key: str | None, paper: dict[str, str]) -> tuple[list[str], list[str]]:
    """The markdown of one experiment, and the names of its tables that carry a provenance mark."""
    folder = HERE / name / "results"
    lines, marked = [f"## {title}", ""], []
    reference = next((v for k, v in paper.items() if paper_key and k.startswith(paper_key)), None)
    lines.append(f"**Paper:** {reference}" if reference else "**Paper:** no numeric table (see the figure cited).")
    lines.append("")
    tables = sorted(folder.glob("*.md")) if folder.exists() else []
    if not tables:
        return lines + [
            f"*Not run yet:* `python experiments/{name}/run.py` writes `experiments/{name}/results/`.",
            "",
        ], marked
    for table in tables:
        scale = table.stem.rsplit("_", 1)[-1]
        # A table's own meta (meta_<stem>.json) when a second script writes tables of the same scale.
        own_meta = table.stem != scale and (folder / f"meta_{table.stem}.json").exists()
        meta_path = folder / (f"meta_{table.stem}.json" if own_meta else f"meta_{scale}.json")
        if len(tables) > 1:
            lines += [f"### `{table.name}`", ""]
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
        marks = provenance_marks(name, table, meta)
        if marks:
            marked.append(f"`{name}/results/{table.name}`")
            lines += [f"> {mark}" for mark in marks] + [""]
        if meta is not None:
            lines += [*describe_meta(meta), ""]
        lines += [table.read_text().rstrip(), ""]
        pictures = sorted(p.name for p in folder.glob(f"*{scale}.png")) if meta is not None and not own_meta else []
        if pictures:
            lines += ["Figures: " + ", ".join(f"[{p}]({name}/results/{p})" for p in pictures), ""]
        rows = read_csv(table.with_suffix(".csv"))
        sentences = COMPARISONS[name](rows) if name in COMPARISONS and rows else []
        if sentences:
            lines += ["**Comparison (computed from the CSV; mean difference over paired seeds, 95 % t-interval):**", ""]
            lines += [f"- {sentence}" for sentence in sentences] + [""]
    pictures = sorted(p.name for p in folder.glob("*.png"))
    if pictures and not any((folder / f"meta_{t.stem.rsplit('_', 1)[-1]}.json").exists() for t in tables):
        lines += ["Figures: " + ", ".join(f"[{p}]({name}/results/{p})" for p in pictures), ""]
    if name in WHY_DIFFERENT:
        lines += [f"**Where we differ from the paper, and why:** {WHY_DIFFERENT[name]}", ""]
    return lines, marked


def introduction(marked: list[str], paper: dict[str, str]) -> list[str]:
    """The title and opening paragraphs: how the page is made, and the list of tables marked by
    :func:`provenance_marks` (also the documentation site's results index, ``docs/hooks.py``)."""
    lines = [
        "# Results",
        "",
        "Generated by `python experiments/make_results.py` from each experiment's `results/` folder; do not edit by "
        "hand. Paper numbers: Belghazi et al., *MINE: Mutual Information Neural Estimation*, ICML 2018 (as "
        "collected in the project's design notes). Our runs are CPU-scale, on offline data; each section says "
        "which scale made its numbers. Comparisons pair the two variants seed by seed and give the mean difference "
        'with a 95 % t-interval; an interval that contains zero reads "no difference".',
        "",
    ]
    if marked:
        lines += [
            f"**Not made by the current code, or not traceable to it ({len(marked)} tables):** "
            + ", ".join(marked)
            + ". Each is marked above its table with the reason; rerun its command before citing its numbers.",
            "",
        ]
    if not paper:
        lines += ["*The paper's reference table was not found; paper numbers omitted.*", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--design", type=Path, help="DESIGN.md with the reference table")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    design = design_path(args.design)
    paper = paper_rows(design)
    body, marked = [], []
    for name, (title, key) in EXPERIMENTS.items():
        lines, tables = section(name, title, key, paper)
        body += lines
        marked += tables
    head = introduction(marked, paper)
    args.out.write_text("\n".join(head + body).rstrip() + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
