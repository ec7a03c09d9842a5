"""MkDocs hook: the pages the site builds from files that live outside ``docs/``, so nothing is copied by hand.

- ``index.md`` is ``README.md`` (the front page of the code host and of the site);
- ``results/`` are the experiments' tables beside the paper's numbers, made by ``experiments/make_results.py``
  (the functions that write ``experiments/RESULTS.md``) from each ``experiments/<name>/results/`` folder, one page
  per experiment, with their pictures; ``results/mode-coverage.md`` is ``benchmarks/results/mode_coverage.txt``;
  ``results/paper-numbers.md`` is ``experiments/paper_numbers.md`` (the reference numbers and the anchors' budgets);
- ``notebooks/*.ipynb`` are rendered by mkdocs-jupyter (not executed: ``tests/test_notebooks.py`` executes them);
- the pictures those pages show are served at their repository paths.

Links are written for the code host, relative to the file's place in the repository (``README.md`` links to
``docs/guides/...``, a guide to ``../../notebooks/...``). :func:`on_page_markdown` rewrites each link whose
target the site holds into the site's path, so one text serves both.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(!?\[[^\]\n]*\]\()([^)\s]+)(\))")
FIGURE_LINK = re.compile(r"\[([^\]]+\.png)\]\(([^)]+)\)")
MODE_COVERAGE = "benchmarks/results/mode_coverage.txt"
PAPER_NUMBERS = "experiments/paper_numbers.md"

# repository path of every file the site holds -> its path in the site (filled by on_files)
_site_path: dict[str, str] = {}
# site path of every generated page -> the repository path its links are relative to
_written_at: dict[str, str] = {}


def _make_results():
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        import make_results
    finally:
        sys.path.remove(str(ROOT / "experiments"))
    return make_results


def _results_pages() -> dict[str, str]:
    """``{site path: markdown}`` of the results pages, from the same functions as ``experiments/RESULTS.md``."""
    make_results = _make_results()
    paper = make_results.paper_rows(None)  # experiments/paper_numbers.md: the repository's copy of the table
    pages, marked, contents = {}, [], []
    for name, (title, key) in make_results.EXPERIMENTS.items():
        lines, tables = make_results.section(name, title, key, paper)
        marked += tables
        text = "\n".join(lines)
        # Figures: links on the code host's RESULTS.md, pictures on the site.
        text = re.sub(r"^Figures: .*$", lambda m: FIGURE_LINK.sub(r"![\1](\2)", m.group(0)), text, flags=re.M)
        pages[f"results/{name}.md"] = text.replace(f"## {title}", f"# {title}", 1)
        contents.append(f"- [{title}]({name}.md)")
    coverage = (ROOT / MODE_COVERAGE).read_text()
    pictures = sorted((ROOT / "benchmarks" / "results").glob("mode_coverage_*.png"))
    pages["results/mode-coverage.md"] = "\n\n".join(
        [
            coverage.rstrip(),
            f"Written by `python benchmarks/mode_coverage.py` (`{MODE_COVERAGE}`; its command and commit are in "
            "`benchmarks/results/mode_coverage_meta.json`). Samples of seed 0:",
            *(f"![{p.name}]({p.name})" for p in pictures),  # relative to benchmarks/results/
        ]
    )
    contents.append("- [Mode coverage on the 2-D grid and ring, 10 seeds (benchmarks)](mode-coverage.md)")
    intro = make_results.introduction(marked, paper)
    pages["results/index.md"] = "\n".join([*intro, "## Experiments", "", *contents, ""])
    return pages


@event_priority(50)  # before mkdocs-jupyter's on_files, which must see the notebooks
def on_files(files: Files, config: MkDocsConfig) -> Files:
    _site_path.clear()
    _written_at.clear()
    for file in files:
        _site_path[f"docs/{file.src_uri}"] = file.src_uri

    def generated(site: str, content: str, written_at: str) -> None:
        files.append(File.generated(config, site, content=content))
        _written_at[site] = written_at

    generated("index.md", (ROOT / "README.md").read_text(), "README.md")
    _site_path["README.md"] = "index.md"
    for site, content in _results_pages().items():
        # The experiment pages' links are relative to experiments/, like RESULTS.md's.
        at = MODE_COVERAGE if site.endswith("mode-coverage.md") else "experiments/RESULTS.md"
        generated(site, content, at if site != "results/index.md" else "results/index.md")
    _site_path["experiments/RESULTS.md"] = "results/index.md"
    _site_path[MODE_COVERAGE] = "results/mode-coverage.md"
    paper = (ROOT / PAPER_NUMBERS).read_text().replace("## Reference results", "# The paper's numbers", 1)
    generated("results/paper-numbers.md", paper, PAPER_NUMBERS)
    _site_path[PAPER_NUMBERS] = "results/paper-numbers.md"
    served = [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "experiments").glob("*/results/*.png")]
    served += (ROOT / "benchmarks" / "results").glob("*.png")
    for path in served:
        repo = path.relative_to(ROOT).as_posix()
        # A file of the repository at its repository path (not File.generated: mkdocs-jupyter's wrapper reads
        # abs_src_path from src_dir).
        files.append(File(repo, str(ROOT), config.site_dir, config.use_directory_urls))
        _site_path[repo] = repo
    return files


def _rewrite(target: str, page: str, written_at: str) -> str:
    path, hash_, anchor = target.partition("#")
    if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path) or path.startswith("/"):
        return target
    repo = posixpath.normpath(posixpath.join(posixpath.dirname(written_at), path))
    site = _site_path.get(repo)
    if site is None:
        return target  # not a file of the site: left for MkDocs' link validation to report
    return posixpath.relpath(site, posixpath.dirname(page) or ".") + hash_ + anchor


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    site = page.file.src_uri
    written_at = _written_at.get(site, f"docs/{site}")
    return LINK.sub(lambda m: m.group(1) + _rewrite(m.group(2), site, written_at) + m.group(3), markdown)
