"""User generator code runs under a time limit and stops on Ctrl+C.

A generator's ``forward`` is code we did not write: a TorchScript loop that never ends runs in C++
and never returns to the interpreter, so neither Python's KeyboardInterrupt nor an exception
raised from another thread reaches it. :func:`user_code` wraps each call:

* one watchdog thread (started once per process) knows the deadline of the call in progress;
* at the deadline it raises :class:`GeneratorTimeout` in the calling thread, which stops Python
  code (an ``--arch`` module or a trusted pickle) at its next bytecode;
* Ctrl+C is seen through ``signal.set_wakeup_fd`` (the C-level handler writes the signal number
  to a pipe even while the main thread is stuck in C++), so the watchdog learns of it at once;
* when the call is still running ``GRACE_S`` seconds later (C++ code that never looks at Python),
  the watchdog prints one line and ends the process (``os._exit``: exit 2 for the time limit,
  130 for Ctrl+C), the only way to stop such code.

Per call this costs a lock, a condition notification and two ``set_wakeup_fd`` calls (a few
microseconds; benchmarks in docs/RELIABILITY.md). The limit applies per call (one batch), from
:func:`time_limit`: ``GAN_DIAGNOSE_TIME_LIMIT`` seconds, or what :func:`set_time_limit` set.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

from diagnose.core.errors import UserError

#: Seconds one generator call may take by default (a batch; CPU, large images included).
DEFAULT_LIMIT_S = 600.0
#: Seconds the watchdog waits, after raising in the thread, before it ends the process.
GRACE_S = 2.0
_limit: float | None = None


class GeneratorTimeout(UserError):
    """Raised inside a generator call that ran past the time limit."""


def time_limit() -> float:
    """The per-call limit in seconds: set_time_limit(), else $GAN_DIAGNOSE_TIME_LIMIT, else 600."""
    if _limit is not None:
        return _limit
    env = os.environ.get("GAN_DIAGNOSE_TIME_LIMIT")
    if env:
        try:
            v = float(env)
            if v > 0:
                return v
        except ValueError:
            pass
    return DEFAULT_LIMIT_S


def set_time_limit(seconds: float | None) -> None:
    """Set the per-call limit (None: back to the environment's or the default)."""
    global _limit
    if seconds is not None and not seconds > 0:
        raise UserError(f"the time limit must be positive seconds, got {seconds}")
    _limit = None if seconds is None else float(seconds)


class _Call:
    __slots__ = ("what", "deadline", "limit", "tid", "fired", "done")

    def __init__(self, what: str, limit: float):
        self.what, self.limit = what, limit
        self.deadline = time.monotonic() + limit
        self.tid = threading.get_ident()
        self.fired: str | None = None     # "timeout" or "interrupt" once the watchdog acted
        self.done = False


class _Watchdog:
    """One daemon thread watching the call in progress (there is at most one per thread)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.calls: list[_Call] = []
        self.rfd, self.wfd = os.pipe()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        self.thread = threading.Thread(target=self._run, name="gan-diagnose-watchdog", daemon=True)
        self.thread.start()

    def _signals(self) -> list[int]:
        try:
            data = os.read(self.rfd, 64)
        except (BlockingIOError, OSError):
            return []
        return list(data)

    def _run(self) -> None:
        import select

        while True:
            with self.cond:
                while not self.calls:
                    self.cond.wait()
                now = time.monotonic()
                pending = [c.deadline for c in self.calls if not c.fired]
                wait = max(0.0, min(pending) - now) if pending else 1.0
            # Sleep until the nearest deadline or a signal byte, whichever comes first.
            ready, _, _ = select.select([self.rfd], [], [], min(wait, 1.0))
            sigs = self._signals() if ready else []
            with self.cond:
                now = time.monotonic()
                for c in list(self.calls):
                    if c.fired:
                        continue
                    if signal.SIGINT in sigs:
                        c.fired = "interrupt"
                        c.deadline = now     # let KeyboardInterrupt reach Python code first
                        threading.Thread(target=self._last_resort, args=(c,), daemon=True).start()
                    elif now >= c.deadline:
                        c.fired = "timeout"
                        _raise_in(c.tid, GeneratorTimeout)
                        threading.Thread(target=self._last_resort, args=(c,), daemon=True).start()

    def _last_resort(self, c: _Call) -> None:
        """End the process when the call ignored the exception (C++ code) for GRACE_S seconds."""
        time.sleep(GRACE_S)
        with self.cond:
            if c.done:
                return
        if c.fired == "interrupt":
            sys.stderr.write("interrupted\n")
            code = 130
        else:
            sys.stderr.write(f"error: {_timeout_message(c)}\n")
            code = 2
        sys.stderr.flush()
        os._exit(code)

    def add(self, c: _Call) -> None:
        self._signals()       # drop signal bytes from before this call (Python handled those)
        with self.cond:
            self.calls.append(c)
            self.cond.notify()

    def remove(self, c: _Call) -> None:
        with self.cond:
            c.done = True
            if c in self.calls:
                self.calls.remove(c)
            if c.fired == "timeout":
                _raise_in(c.tid, None)    # clear an exception still pending for this thread


_watchdog: _Watchdog | None = None
_wd_lock = threading.Lock()


def _get_watchdog() -> _Watchdog:
    global _watchdog
    with _wd_lock:
        if _watchdog is None:
            _watchdog = _Watchdog()
        return _watchdog


def _raise_in(tid: int, exc) -> None:
    """Raise ``exc`` (a class, or None to clear) in thread ``tid`` at its next bytecode."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid),
                                               ctypes.py_object(exc) if exc is not None else None)


def _timeout_message(c: _Call) -> str:
    return (f"{c.what} did not return within {c.limit:g} s (the per-call time limit; set "
            "GAN_DIAGNOSE_TIME_LIMIT=SECONDS to allow more): stopped")


@contextmanager
def user_code(what: str = "the generator", limit: float | None = None):
    """Run the body (one call into user code) under the time limit, stoppable with Ctrl+C."""
    wd = _get_watchdog()
    c = _Call(what, float(limit) if limit is not None else time_limit())
    old_fd = None
    if threading.current_thread() is threading.main_thread():
        try:
            old_fd = signal.set_wakeup_fd(wd.wfd, warn_on_full_buffer=False)
            if old_fd not in (-1, wd.wfd):      # someone else's wakeup fd (asyncio): keep theirs
                signal.set_wakeup_fd(old_fd)
                old_fd = None
        except (ValueError, OSError):
            old_fd = None
    wd.add(c)
    try:
        yield c
    except GeneratorTimeout:
        raise GeneratorTimeout(_timeout_message(c)) from None
    finally:
        wd.remove(c)
        if old_fd is not None:
            signal.set_wakeup_fd(old_fd)
