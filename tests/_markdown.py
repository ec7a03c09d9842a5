"""The code blocks of the Markdown pages (README.md, docs/**/*.md), read and run the one way every test runs them.

A page's Python blocks run in order in one namespace, as a reader pasting them into one session would run
them; each is compiled under the page's path with its line number, so a traceback points into the page.
Shell blocks hold commands: :func:`commands` splits them (continuation lines joined, comments dropped).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page, the line of its first code line (1-based), language and code."""

    page: Path
    line: int
    language: str
    code: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path, language: str | None = None) -> list[Block]:
    """The fenced blocks of ``page`` in order (only those of ``language`` when given)."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        info = match["info"].strip().split()
        lang = info[0] if info else ""
        code = "\n".join(line[len(match["indent"]) :] for line in match["code"].splitlines())
        if language is None or lang == language:
            found.append(Block(page, text.count("\n", 0, match.start("code")) + 1, lang, code + "\n"))
    return found


def exec_python(block: Block, namespace: dict) -> None:
    """Execute one Python block in ``namespace``, compiled at its page and line (tracebacks point into the page)."""
    exec(compile("\n" * (block.line - 1) + block.code, str(block.page), "exec"), namespace)


def run_python(page: Path, namespace: dict | None = None) -> dict:
    """Execute every Python block of ``page`` in order in ``namespace`` (a fresh one by default); return it."""
    namespace = {"__name__": f"page_{page.stem.replace('-', '_')}"} if namespace is None else namespace
    for block in blocks(page, "python"):
        exec_python(block, namespace)
    return namespace


def commands(block: Block) -> list[tuple[str, list[str]]]:
    """The commands of a shell block as ``(text, argv)``: ``\\`` continuations joined, split as the shell would,
    ``#`` comments dropped (``text`` is the command without its comment)."""
    found = []
    for line in block.code.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            found.append((" ".join(line.split(" #")[0].split()), argv))
    return found
