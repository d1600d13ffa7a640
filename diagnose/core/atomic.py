"""Atomic file writes: a reader never sees a half-written file.

Every non-JSONL file of a run directory (config, verdict, sample grids, checkpoints, caches) is
written to a temporary name in the same directory, flushed, fsynced and renamed over the target.
A full disk raises :class:`diagnose.core.errors.DiskFullError` naming the target; the previous file
stays as it was. The file gets the mode a plain ``open`` would give it (0666 less the umask), not
``mkstemp``'s 0600. Writers that hide the OS error (torch's zip writer reports a full disk as
``RuntimeError: ... unexpected pos``) are given a file object that records the real one, which
is raised instead.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

TMP_SUFFIX = ".tmp"  # temporary files are ".NAME.<random>.tmp" next to their target


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then rename it to ``path``."""
    from diagnose.core.errors import DiskFullError, is_disk_full

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as e:
        if is_disk_full(e):
            raise DiskFullError(path, e.errno) from None
        raise
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as raw:
            f = _Recording(raw)
            try:
                write(f)
                f.flush()
            except Exception as e:
                if f.error is not None and f.error is not e:
                    raise f.error from None     # the real cause behind a writer's own error
                raise
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        # A full disk is the user's to fix: one clear line naming the file. The old file at
        # ``path`` (if any) is untouched because the rename never happened.
        if is_disk_full(e) and not isinstance(e, DiskFullError):
            raise DiskFullError(path, e.errno) from None
        raise
    return path


class _Recording:
    """A file object that remembers the OSError its ``write`` raised (see the module docstring)."""

    def __init__(self, f):
        self._f = f
        self.error: OSError | None = None

    def write(self, b):
        try:
            return self._f.write(b)
        except OSError as e:
            self.error = e
            raise

    def flush(self):
        try:
            return self._f.flush()
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name):
        return getattr(self._f, name)


def current_umask() -> int:
    """The process umask, read without changing it (Linux), else by setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def remove_stale_temps(folder: str | os.PathLike, min_age_s: float = 0.0,
                       targets: tuple[str, ...] | None = None) -> int:
    """Delete temporary files a killed writer left in ``folder`` (``.NAME.*.tmp``); return how many.

    With ``min_age_s`` 0, only call this while no other process writes into ``folder`` (a run
    directory opened by its one writer, under its lock); a folder shared by concurrent writers
    (the stage cache) passes an age no live write takes. ``targets`` restricts the sweep to the
    temporaries of those file names (a folder that is not ours, such as a checkpoint's).
    """
    import time

    n = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    now = time.time()
    for p in entries:
        if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX):
            if targets is not None and not any(p.name.startswith(f".{t}.") for t in targets):
                continue
            try:
                st = p.lstat()
                if not (st.st_mode & 0o170000 == 0o100000):    # regular files only
                    continue
                if min_age_s and now - st.st_mtime < min_age_s:
                    continue
                p.unlink()
                n += 1
            except OSError:
                pass
    return n


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (NaN/inf become null)."""
    text = json.dumps(sanitize_json(obj), indent=2, sort_keys=False) + "\n"
    return atomic_write_bytes(path, text.encode())


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` to ``path`` atomically."""
    import torch

    return atomic_write(path, lambda f: torch.save(obj, f))


def sanitize_json(obj: Any) -> Any:
    """Make ``obj`` strict-JSON safe: NaN/inf -> None, tuples -> lists, numpy scalars -> Python."""
    import math

    if isinstance(obj, str):
        return str(obj)            # plain str: subclasses such as TorchVersion break weights_only loads
    if isinstance(obj, bool) or obj is None or isinstance(obj, int):
        return obj if type(obj) in (bool, int) or obj is None else int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): sanitize_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize_json(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return sanitize_json(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj
