"""The on-disk stage cache: each analysis stage stored under a hash of every input that changes it.

Keys hash a JSON description of the inputs (dataset name/split/size/source, extractor name and a
hash of its weights, sample counts, code version of the stage), so a changed input can never be
served a stale result. Values are dicts of tensors, numbers, strings and lists, written with
``atomic_torch_save`` and read back with ``torch.load(weights_only=True)``: a cache file can never
run code. Default location: ``$GAN_DIAGNOSE_CACHE`` or ``~/.cache/gan-diagnose``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

#: Bumped when a stage's computation changes, so older cache entries are ignored.
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """$GAN_DIAGNOSE_CACHE, else ~/.cache/gan-diagnose."""
    env = os.environ.get("GAN_DIAGNOSE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gan-diagnose"


def hash_inputs(inputs: dict) -> str:
    """Stable sha256 (first 20 hex digits) of a JSON-able description of a stage's inputs."""
    text = json.dumps({"v": CACHE_VERSION, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def module_hash(obj: Any) -> str:
    """Hash of every tensor in the nn.Modules an extractor holds (its weights), or '' when none."""
    import torch

    h = hashlib.sha256()
    found = False
    mods = [obj] if isinstance(obj, torch.nn.Module) else [
        v for v in vars(obj).values() if isinstance(v, torch.nn.Module)]
    for m in mods:
        for k, t in sorted(m.state_dict().items()):
            h.update(k.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
            found = True
    return h.hexdigest()[:16] if found else ""


class StageCache:
    """get-or-compute for analysis stages; ``root=None`` uses the default directory, ``False`` disables."""

    def __init__(self, root: str | os.PathLike | None | bool = None):
        self.enabled = root is not False
        self.root = default_cache_dir() if root in (None, True) else Path(root) if root else None

    def path(self, stage: str, inputs: dict) -> Path:
        """Where the entry for ``stage`` with ``inputs`` lives."""
        return self.root / stage / f"{hash_inputs({'stage': stage, **inputs})}.pt"

    def get_or_compute(self, stage: str, inputs: dict, compute: Callable[[], dict]) -> dict:
        """The cached value of ``stage`` for ``inputs``, computing and storing it on a miss."""
        import torch

        from diagnose.atomic import atomic_torch_save

        if not self.enabled:
            return compute()
        p = self.path(stage, inputs)
        if p.is_file():
            try:
                return torch.load(p, map_location="cpu", weights_only=True)
            except Exception as e:  # a corrupt or foreign file: recompute, say so
                print(f"note: ignoring unreadable cache entry {p} ({type(e).__name__})",
                      file=sys.stderr)
        value = compute()
        try:
            atomic_torch_save(p, value)
        except OSError as e:  # a read-only home must not stop a check
            print(f"note: could not write cache {p}: {e}", file=sys.stderr)
        return value
