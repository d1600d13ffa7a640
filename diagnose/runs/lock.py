"""One writer per run directory: an advisory lock held while a run is being written.

The writer (``Monitor``, and ``diagnose run`` through it) takes an exclusive ``fcntl.flock`` on
``<run>/.writer.lock`` and records who holds it (pid, host, command, start time) in that file.
A second writer gets one line naming the holder. The kernel drops a flock when its holder dies
(SIGKILL included), so a lock left by a dead writer is simply free: the next writer takes it and
rewrites the record. Where ``flock`` is not supported (some network file systems) the record is
used instead: a holder whose PID is gone on this host is taken over.

The lock file is kept (not deleted on release): deleting a locked file lets a third process lock
a new file of the same name while the second still waits on the old one.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from pathlib import Path

from diagnose.core.errors import UserError

LOCK_NAME = ".writer.lock"


class RunLockedError(UserError):
    """Another writer holds the run directory."""


def _holder_text(info: dict | None) -> str:
    if not info:
        return "another process (no record of which)"
    cmd = " ".join(str(info.get("command", "?")).split())[:160]
    since = info.get("since")
    when = f" since {since}" if since else ""
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} ({cmd}){when}"


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError, OverflowError) as e:
        return isinstance(e, PermissionError)
    return True


class RunLock:
    """Exclusive writer lock of one run directory; :meth:`acquire` then :meth:`release`."""

    def __init__(self, run_dir: str | os.PathLike):
        self.dir = Path(run_dir)
        self.path = self.dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def read_holder(self) -> dict | None:
        """The holder record in the lock file, or None when empty or unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")[:4096]
            info = json.loads(text) if text.strip() else None
        except (OSError, ValueError, RecursionError):
            return None
        return info if isinstance(info, dict) else None

    def acquire(self) -> "RunLock":
        """Take the lock or raise RunLockedError naming its holder."""
        import fcntl

        if self._fd is not None:
            return self
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise UserError(f"cannot create the writer lock of {self.dir}: "
                            f"{e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(f"{self.dir} is being written by {_holder_text(self.read_holder())}; "
                                 "one writer per run directory: wait for it to finish or write "
                                 "elsewhere") from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                os.close(fd)
                raise
            info = self.read_holder()    # no flock here: trust a live PID on this host
            if info and info.get("host") == socket.gethostname() and _pid_alive(info.get("pid")) \
                    and info.get("pid") != os.getpid():
                os.close(fd)
                raise RunLockedError(f"{self.dir} is being written by {_holder_text(info)}; one "
                                     "writer per run directory") from None
        self._fd = fd
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "command": " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]]),
                  "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except OSError:
            pass      # the record is for messages only; the flock is the lock
        return self

    def release(self) -> None:
        """Drop the lock (idempotent); the record is cleared first, while still held."""
        import fcntl

        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):
        try:
            self.release()
        except Exception:
            pass
