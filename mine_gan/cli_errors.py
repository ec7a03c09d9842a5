"""Parse errors of the ``mine-gan`` command line in one line that names the key (``mine-gan ... --help`` stays whole).

jsonargparse reports a wrong key or value inside a ``class_path`` as a nested account of every Union member it
tried, after the whole usage (50-60 lines for one typo). :class:`ConciseArgumentParser` prints instead::

    error: model.init_args.mi_wieght: InfoGAN takes no argument `mi_wieght`; did you mean `mi_weight`?
    error: model.init_args.d_steps: expected int, got 'two'
    error: config: no such file: 'nope.yaml'

and exits with status 2, as the parser does. ``JSONARGPARSE_DEBUG=true`` keeps jsonargparse's own report.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

from jsonargparse import ArgumentParser
from pytorch_lightning.cli import LightningArgumentParser
from typing_extensions import override

__all__ = ["ConciseArgumentParser", "summarize"]

_KEY = re.compile(r'^\s*(?:error: )?Parser key "([^"]+)":\s*(.*)$')
_CLASS = re.compile(r"^\s*(?:- )?Problem with given class_path '([^']+)':")
_OPTION = re.compile(r"^\s*Option '([^']+)' is not accepted")
_EXPECTED = re.compile(r"^\s*Expected a (.+?)\. Got value: (.*)$")
_UNION_MEMBER = re.compile(r"^\s*- Expected a (.+?)(?:\. Got value: .*)?$")
_MISSING_FILE = re.compile(r"File does not exist: '?([^']+)'?")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (\S+)")


def _nearest(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean `x`?"`` for the closest candidate, or ``""``."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean `{match[0]}`?" if match else ""


def _arguments(class_path: str) -> list[str]:
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        return [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")]
    except (ImportError, AttributeError, TypeError, ValueError):
        return []


def _type_name(expected: str) -> str:
    """``"<class 'int'>"`` -> ``"int"``, ``NoneType`` -> ``null``; others (``typing.Literal[...]``) as they are."""
    name = re.sub(r"<class '(?:builtins\.)?([\w.]+)'>", r"\1", expected).replace("typing.", "")
    return "null" if name == "NoneType" else name


def summarize(message: str, options: Iterable[str] = ()) -> str | None:
    """One line for a parse error of jsonargparse, naming the key; ``None`` when the message is not understood.

    Args:
        message: what jsonargparse passes to ``ArgumentParser.error``.
        options: the parser's option strings (``--trainer.max_epochs``...), to suggest the nearest one.

    Example:
        >>> summarize('Parser key "config":\\n  File does not exist: \\'nope.yaml\\'')
        "config: no such file: 'nope.yaml'"
    """
    lines = message.splitlines()
    unrecognized = _UNRECOGNIZED.search(message)
    if unrecognized:
        given = unrecognized[1]
        flag = given.split("=", 1)[0]
        return f"unknown option {given}" + _nearest(flag, [o for o in options if o.startswith("--")])
    head = _KEY.match(lines[0]) if lines else None
    if head is None:
        return None
    key, rest = head[1], head[2]
    missing = _MISSING_FILE.search(message)
    if missing:
        return f"{key}: no such file: '{missing[1]}'"
    path, cls = [key], None
    for line in lines[1:]:
        if line.strip().startswith("- Expected a <class 'NoneType'>"):
            break  # the Union's other member (None): the class's own account is complete
        if found := _CLASS.match(line):
            cls = found[1]
        elif found := _KEY.match(line):
            path.append(f"init_args.{found[1]}" if cls else found[1])
            cls = None
        elif found := _OPTION.match(line):
            option = found[1]
            where = ".".join([*path, "init_args", option])
            owner = (cls or "").rpartition(".")[2] or "this class"
            return f"{where}: {owner} takes no argument `{option}`" + _nearest(option, _arguments(cls or ""))
        elif found := _EXPECTED.match(line):
            return f"{'.'.join(path)}: expected {_type_name(found[1])}, got {found[2]!r}"
    given = next((line.split(":", 1)[1].strip() for line in lines if line.strip().startswith("Given value:")), None)
    union = [found[1] for line in lines if (found := _UNION_MEMBER.match(line))]
    if union and given is not None:  # a plain Union (no class_path): what each member expected
        return f"{key}: expected {' or '.join(_type_name(t) for t in union)}, got {given!r}"
    if rest and len(lines) == 1:
        return f"{key}: {rest}"
    return None


class ConciseArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, whose errors are one line naming the key (see the module docstring)."""

    @override
    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        parser: ArgumentParser = getattr(ex, "subcommand_parser", None) or self
        line = summarize(message, _option_strings(parser)) if self.exit_on_error and not _debugging() else None
        if line is None:
            super().error(message, ex)
        sys.stdout.flush()
        prog = parser.prog.replace(" [options]", "")
        sys.stderr.write(f"error: {line}\n(`{prog} --help` lists every option)\n")
        self.exit(2)


def _option_strings(parser: Any) -> list[str]:
    return [s for action in getattr(parser, "_actions", []) for s in action.option_strings]


def _debugging() -> bool:
    import os

    return os.environ.get("JSONARGPARSE_DEBUG", "").lower() in ("true", "1", "yes")
