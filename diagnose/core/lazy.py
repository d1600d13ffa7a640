"""Lazy package attributes: ``__getattr__ = lazy_getattr(__name__, {"Name": ("pkg.mod", "attr")})``
imports a public name's module on first use, so importing a package stays cheap (``diagnose
--help`` never pays for torch)."""
from __future__ import annotations

import importlib
from typing import Callable


def lazy_getattr(package: str, table: dict[str, tuple[str, str]]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package`` serving the names in ``table``."""
    def __getattr__(name: str):
        if name in table:
            mod, attr = table[name]
            return getattr(importlib.import_module(mod), attr)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
