"""Griffe extension: the Sphinx markup of mine_gan's Google-style docstrings, as Markdown for mkdocstrings.

The docstrings are written for both Sphinx readers and ``help()``: ``.. math::`` directives, ``:math:`` and
cross-reference roles (``:class:``, ``:func:``, ...). mkdocstrings' Google parser keeps them as text, so this
rewrites each docstring before it is parsed:

- ``.. math:: expr`` (one line) and a ``.. math::`` directive with an indented body become ``$$ ... $$`` blocks,
  rendered by ``pymdownx.arithmatex`` (``generic: true``) and MathJax;
- ``:math:`expr``` becomes ``$expr$``;
- ``:class:`~a.b.C``` and the other reference roles become the code span ``C`` (Sphinx's ``~`` shows the last
  component; without it the whole target), linked to the object's entry in the reference where there is one: the
  target is resolved in the docstring's scope, as Python would resolve the name there, and handed to
  mkdocs-autorefs as an optional reference (one that is not documented stays plain code, without a warning);
- an ``Example:`` section heading becomes ``Examples:``, the heading Griffe's Google parser reads as examples (it
  takes ``Example:`` for an admonition and renders its doctests as prose).

Only the docstring text handed to the renderer changes; the source files stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import griffe

INLINE_MATH = re.compile(r":math:`([^`]+)`")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):`(~?)([^`]+)`")
EXAMPLE_HEADING = re.compile(r"^([ \t]*)Example:[ \t]*$", re.M)
DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>.*)$")


def _role(match: re.Match[str], resolve: Callable[[str], str] | None = None) -> str:
    short, target = match.group(1), match.group(2)
    name = target.rsplit(".", 1)[-1] if short else target
    if resolve is None:
        return f"`{name}`"
    head, _, rest = target.partition(".")
    try:
        identifier = resolve(head) + (f".{rest}" if rest else "")
    except (griffe.NameResolutionError, KeyError):
        identifier = target
    return f'<autoref identifier="{identifier}" optional><code>{name}</code></autoref>'


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _math_blocks(text: str) -> str:
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        found = DIRECTIVE.match(lines[i])
        if not found:
            out.append(lines[i])
            i += 1
            continue
        indent, body = found["indent"], [found["inline"].strip()] if found["inline"].strip() else []
        i += 1
        # The directive's body: the lines after it indented deeper than it, blank lines between them included.
        while i < len(lines):
            following = next((j for j in range(i, len(lines)) if lines[j].strip()), len(lines))
            if following == len(lines) or _indent(lines[following]) <= len(indent):
                break
            body.append(lines[following].strip())
            i = following + 1
        out += [f"{indent}$$", *(f"{indent}{line}" for line in body), f"{indent}$$", ""]
    return "\n".join(out)


def sphinx_to_markdown(text: str, resolve: Callable[[str], str] | None = None) -> str:
    """The docstring ``text`` with its Sphinx math and roles as Markdown.

    Args:
        text: a docstring.
        resolve: the full path of a name in the docstring's scope (``griffe.Object.resolve``); without it the
            roles become unlinked code.

    Example:
        >>> print(sphinx_to_markdown("Norm.\\n\\n.. math:: a^2\\n\\nSee :class:`~x.MINE`, :math:`b`."))
        Norm.
        <BLANKLINE>
        $$
        a^2
        $$
        <BLANKLINE>
        See `MINE`, $b$.
    """
    text = EXAMPLE_HEADING.sub(r"\1Examples:", _math_blocks(text))
    text = INLINE_MATH.sub(lambda m: f"${m.group(1)}$", text)
    return ROLE.sub(lambda m: _role(m, resolve), text)


class SphinxMarkup(griffe.Extension):
    """Rewrite every docstring of a loaded package with :func:`sphinx_to_markdown`, once it is loaded whole (so
    that a name defined further down its module resolves too)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: object) -> None:
        objects = [pkg]
        while objects:
            obj = objects.pop()
            if obj.docstring is not None:
                obj.docstring.value = sphinx_to_markdown(obj.docstring.value, obj.resolve)
            objects += [m for m in obj.members.values() if not m.is_alias]
