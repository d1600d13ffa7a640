"""Named registries of parts (models, losses, layers, schedules, augmentations, experiments).

A registry refuses a duplicate name (two parts silently sharing a name is how an experiment ends
up running something other than what its table says) and lists the valid names when asked for
an unknown one, so the CLI can turn that into one clear line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from diagnose.errors import UserError


@dataclass(frozen=True)
class Entry:
    """One registered part."""

    name: str            # registry key
    obj: Any             # the class or factory
    description: str     # one line shown by `diagnose experiments` and in docs
    meta: dict           # free-form facts (role, source report, ...)


class Registry:
    """A dict of named parts that refuses duplicates and explains unknown names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Entry] = {}

    def register(self, name: str, obj: Any = None, *, description: str = "", **meta) -> Callable:
        """Register ``obj`` under ``name`` (usable as a decorator when ``obj`` is omitted)."""

        def add(o: Any) -> Any:
            if name in self._items:
                raise ValueError(f"duplicate {self.kind} name {name!r}")
            desc = description or (o.__doc__ or "").strip().split("\n")[0]
            self._items[name] = Entry(name, o, desc, dict(meta))
            return o

        return add if obj is None else add(obj)

    def entry(self, name: str) -> Entry:
        """The entry for ``name``; UserError listing the valid names if unknown."""
        try:
            return self._items[name]
        except KeyError:
            raise UserError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}") from None

    def get(self, name: str) -> Any:
        """The registered object for ``name``."""
        return self.entry(name).obj

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)
