"""The on-disk stage cache: each analysis stage stored under a hash of every input that changes it.

Keys hash a JSON description of the inputs (dataset name/split/size/source, extractor name and a
hash of its weights, sample counts, code version of the stage), so a changed input can never be
served a stale result. Values are dicts of tensors, numbers, strings and lists, written with
``atomic_torch_save`` and read back with ``torch.load(weights_only=True)``: a cache file can never
run code. Default location: ``$GAN_DIAGNOSE_CACHE`` or ``~/.cache/gan-diagnose``.

An entry is ``{"format", "key", "digest", "payload"}``: the value serialized by ``torch.save``
as a uint8 tensor, with the sha256 of those bytes and the hash of its inputs. An entry that is
unreadable, of another format, filed under the wrong key or edited by hand (digest mismatch) is
recomputed, with one note. A failed cache write (full disk, read-only home) never loses a result:
the value is computed, a note says why it was not stored, and it is returned. Temporary files a
killed writer left (older than an hour) are removed when a stage is next used.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

#: Bumped when a stage's computation changes, so older cache entries are ignored.
CACHE_VERSION = 2
#: Format of an entry file (value + digest); entries of any other format are recomputed.
ENTRY_FORMAT = "gan-diagnose-cache/2"
#: Temporaries older than this (seconds) in a stage folder are left over from a killed writer.
STALE_TEMP_S = 3600.0


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
        self._swept: set[str] = set()

    def path(self, stage: str, inputs: dict) -> Path:
        """Where the entry for ``stage`` with ``inputs`` lives."""
        return self.root / stage / f"{hash_inputs({'stage': stage, **inputs})}.pt"

    def get_or_compute(self, stage: str, inputs: dict, compute: Callable[[], dict]) -> dict:
        """The cached value of ``stage`` for ``inputs``, computing and storing it on a miss."""
        if not self.enabled:
            return compute()
        p = self.path(stage, inputs)
        key = p.stem
        if stage not in self._swept:           # leftovers of killed writers, once per stage
            self._swept.add(stage)
            from diagnose.core.atomic import remove_stale_temps

            remove_stale_temps(p.parent, min_age_s=STALE_TEMP_S)
        if p.is_file():
            value, why = read_entry(p, key)
            if why is None:
                return value
            print(f"note: ignoring unreadable cache entry {p} ({why}); recomputing", file=sys.stderr)
        value = compute()
        try:
            write_entry(p, key, value)
        except (OSError, RuntimeError) as e:   # a full disk or read-only home must not stop a check
            from diagnose.core.errors import os_error_line

            why = (os_error_line(e) if isinstance(e, OSError) else None) or " ".join(str(e).split())[:120]
            print(f"note: result not cached ({why})", file=sys.stderr)
        return value


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_entry(path: Path, key: str, value: Any) -> None:
    """Store ``value`` at ``path`` (atomic) with its digest and key."""
    import io

    import torch

    from diagnose.core.atomic import atomic_torch_save

    buf = io.BytesIO()
    torch.save(value, buf)
    data = buf.getvalue()
    payload = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    atomic_torch_save(path, {"format": ENTRY_FORMAT, "key": key, "digest": _digest(data),
                             "payload": payload})


def read_entry(path: Path, key: str) -> tuple[Any, str | None]:
    """(value, None) for a sound entry, else (None, why it is not used). Never runs code."""
    import io

    import torch

    from diagnose.runs.checkpoint import read_weights

    try:
        entry = read_weights(path)
    except Exception as e:  # a corrupt or foreign file
        return None, f"unreadable: {type(e).__name__}"
    if not isinstance(entry, dict) or entry.get("format") != ENTRY_FORMAT:
        return None, "not an entry of this version"
    payload = entry.get("payload")
    if entry.get("key") != key or not torch.is_tensor(payload) or payload.dtype != torch.uint8:
        return None, "filed under the wrong key or malformed"
    data = payload.contiguous().numpy().tobytes()
    if entry.get("digest") != _digest(data):
        return None, "its content does not match its digest (edited or damaged)"
    try:
        return read_weights(io.BytesIO(data)), None
    except Exception as e:
        return None, f"unreadable payload: {type(e).__name__}"
