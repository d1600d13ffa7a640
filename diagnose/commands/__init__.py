"""One module per CLI verb. Each defines ``ORDER`` (position in --help), ``HELP`` (one line) and
``add_parser(subparsers)`` which registers its flags and ``set_defaults(func=run)``; ``run(args)``
returns a :class:`Result` that the CLI prints as text or, with ``--json``, as JSON.

Command modules import nothing heavy at module level (torch, sklearn, dash load inside ``run``).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any


@dataclass
class Result:
    """What a verb returns: ``data`` (JSON-able, printed by --json) and ``text`` (the readable form)."""

    data: Any
    text: str
    exit_code: int = 0


def add_json_flag(p) -> None:
    """The shared --json flag of every verb."""
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def verb_names() -> list[str]:
    """Names of the command modules (found on disk, none imported)."""
    return sorted(i.name for i in pkgutil.iter_modules(__path__) if not i.name.startswith("_"))


def verb_modules(only: str | None = None) -> list:
    """Every command module under diagnose.commands, in --help order; ``only``: just that verb's
    module (the CLI imports one verb's module when the command line names one)."""
    mods = []
    for name in verb_names():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"{__name__}.{name}")
        if hasattr(mod, "add_parser"):
            mods.append(mod)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))
