"""The one registry class: named parts of the tool (feature extractors, dynamics detectors,
datasets, the trainers' models, losses, augmentations and experiments).

A registry is a read-only mapping name -> object that refuses a second registration under a name
(two parts silently sharing a name is how a run ends up using something other than what its table
says) and answers an unknown name with one clear line listing the valid ones. Each name keeps an
:class:`Entry` with a one-line description and free-form facts (role, source report, ...).

Registration goes one way: the module that owns the implementations creates the registry and
registers into it; readers import the registry, never the other way round.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Iterator

from diagnose.core.errors import UserError

_MISSING = object()


@dataclass(frozen=True)
class Entry:
    """One registered part."""

    name: str            # registry key
    obj: Any             # the class, factory or spec
    description: str     # one line for listings
    meta: dict           # free-form facts (role, source report, ...)


class Registry(Mapping):
    """Name -> registered object; refuses duplicates and explains unknown names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Entry] = {}

    def register(self, name: Any = None, obj: Any = _MISSING, *, description: str = "",
                 **meta) -> Any:
        """Register ``obj`` under ``name``. Forms: ``register("a", obj)``; ``@register("a", role=...)``
        as a decorator; ``register(spec)`` for an object that carries its own ``.name``.
        Returns the object (so decorators keep the class or function)."""
        if obj is _MISSING and not isinstance(name, str):      # register(spec)
            obj, name = name, getattr(name, "name", None)
            if not isinstance(name, str):
                raise TypeError(f"a {self.kind} registered without a name must have a str .name")

        def add(o: Any) -> Any:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            desc = description or getattr(o, "description", "") or \
                (getattr(o, "__doc__", None) or "").strip().split("\n")[0]
            self._items[name] = Entry(name, o, str(desc), dict(meta))
            return o

        return add if obj is _MISSING else add(obj)

    def __setitem__(self, name: str, obj: Any) -> None:
        if getattr(obj, "name", name) != name:
            raise TypeError(f"a {self.kind} registered as {name!r} says its name is {obj.name!r}")
        self.register(name, obj)

    def entry(self, name: str) -> Entry:
        """The entry for ``name``; UserError listing the valid names if unknown."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise UserError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}") from None

    def get(self, name: str, default: Any = _MISSING) -> Any:
        """The object registered as ``name``; unknown: ``default`` when given, else UserError."""
        if default is not _MISSING and name not in self._items:
            return default
        return self.entry(name).obj

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def entries(self) -> list[Entry]:
        """Entries, in registration order."""
        return list(self._items.values())

    def __getitem__(self, name: str) -> Any:
        return self._items[name].obj

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._items)})"
