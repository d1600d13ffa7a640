"""The extractor registry's types: what an extractor is called and how to build it (no torch).

Kept apart from diagnose/features/base.py (the Extractor class, which needs torch) so that
listing extractors imports nothing heavy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ExtractorSpec:
    """How to build one named extractor, and what it is, without building it.

    name:        registry name, also the name torch-fidelity knows it by
    factory:     callable(device=..., **kw) -> Extractor
    dim:         feature dimension
    num_classes: 10, 1000 or None (no classifier: no IS, no class-based mode coverage)
    kind:        "image" or "points"
    description: one line for ``diagnose features list``
    available:   callable(**kw) -> (bool, reason): can it be built here (weights present)?
    """

    name: str
    factory: Callable[..., Any]
    dim: int
    num_classes: int | None
    kind: str
    description: str
    available: Callable[..., tuple[bool, str]] = lambda **kw: (True, "built in")


class Registry(dict):
    """Name -> ExtractorSpec; refuses a second registration under the same name."""

    def register(self, spec: ExtractorSpec) -> ExtractorSpec:
        """Add ``spec``; raise ValueError when the name is taken."""
        if not isinstance(spec, ExtractorSpec):
            raise TypeError(f"expected an ExtractorSpec, got {type(spec).__name__}")
        if spec.name in self:
            raise ValueError(f"feature extractor {spec.name!r} is already registered")
        super().__setitem__(spec.name, spec)
        return spec

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            raise ValueError(f"feature extractor {key!r} is already registered")
        if not isinstance(value, ExtractorSpec) or value.name != key:
            raise TypeError("register an ExtractorSpec whose name is its key")
        super().__setitem__(key, value)
