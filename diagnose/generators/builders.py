"""Where the networks of a trainers checkpoint come from, without diagnose importing trainers.

A checkpoint whose config names registered models (``{"generator": {"name": "dcgan28_g", ...}}``)
is rebuilt by the package that owns those models. Such a package declares itself as an entry
point of the group ``gan_diagnose.builders`` (this distribution's ``trainers.build`` does, in
pyproject.toml); its module provides ``build_generator(config)`` and ``build_discriminator(config)``.
So the analysis library has no import arrow into the trainers: it asks the installed metadata,
the standard Python plugin seam, and callers may always pass their own builder instead.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

GROUP = "gan_diagnose.builders"


@lru_cache(maxsize=1)
def _modules() -> tuple:
    from importlib.metadata import entry_points

    mods = []
    for ep in entry_points(group=GROUP):
        try:
            mods.append(ep.load())
        except Exception:       # a broken plugin is skipped; a checkpoint it owns says so below
            continue
    return tuple(mods)


def installed_builder(kind: str) -> Callable[[dict], object] | None:
    """``build_generator`` (kind "generator") or ``build_discriminator`` ("discriminator") of the
    first installed builder package, or None when none is installed."""
    for mod in _modules():
        fn = getattr(mod, f"build_{kind}", None)
        if callable(fn):
            return fn
    return None
