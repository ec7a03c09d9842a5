"""Griffe extension: the Sphinx markup of mine_gan's Google-style docstrings, as Markdown for mkdocstrings.

The docstrings are written for both Sphinx readers and ``help()``: ``.. math::`` directives, ``:math:`` and
cross-reference roles (``:class:``, ``:func:``, ...). mkdocstrings' Google parser keeps them as text, so this
rewrites each docstring before it is parsed:

- ``.. math:: expr`` (one line) and a ``.. math::`` directive with an indented body become ``$$ ... $$`` blocks,
  rendered by ``pymdownx.arithmatex`` (``generic: true``) and MathJax;
- ``:math:`expr``` becomes ``$expr$``;
- ``:class:`~a.b.C``` and the other reference roles become the code span ``C`` (Sphinx's ``~`` shows the last
  component; without it the whole target);
- an ``Example:`` section heading becomes ``Examples:``, the heading Griffe's Google parser reads as examples (it
  takes ``Example:`` for an admonition and renders its doctests as prose).

Only the docstring text handed to the renderer changes; the source files stay as they are.
"""

from __future__ import annotations

import re

import griffe

INLINE_MATH = re.compile(r":math:`([^`]+)`")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):`(~?)([^`]+)`")
EXAMPLE_HEADING = re.compile(r"^([ \t]*)Example:[ \t]*$", re.M)
DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>.*)$")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


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


def sphinx_to_markdown(text: str) -> str:
    """The docstring ``text`` with its Sphinx math and roles as Markdown.

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
    return ROLE.sub(_role, text)


class SphinxMarkup(griffe.Extension):
    """Rewrite every docstring of the loaded objects with :func:`sphinx_to_markdown`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = sphinx_to_markdown(obj.docstring.value)
