"""Live early warning inside a training loop: ``Monitor(..., detectors=True, stop_on=(...))``.

Monitor calls :meth:`LiveDetectors.update` with the rows it just wrote (once per flush, not per
step) and :meth:`LiveDetectors.finish` at close. Rows go into fixed-size numpy ring buffers (one
per canonical series), so memory is bounded and a step costs one array write per series. Every
``every`` steps the detectors run on the window; each NEW flag goes to ``monitor.warn`` (stderr
line + warnings.jsonl; a code in ``stop_on`` sets ``monitor.should_stop``). A code is not repeated
while it keeps firing; once it clears it may warn again.
"""
from __future__ import annotations

import math

import numpy as np

from diagnose.dynamics.table import SERIES, Table, canonical_name

_COLS = ("step",) + SERIES


class LiveDetectors:
    """Rolling-window detectors attached to a Monitor.

    monitor:  the Monitor (its ``warn`` receives flag dicts)
    every:    run the detectors when the logged step has advanced this much since the last run
    stop_on:  verdict codes that should end the run (handled by Monitor.warn)
    window:   rows kept (the newest); older rows fall out of the ring buffer
    min_rows: rows needed before "for long" codes may warn: at the very start of training every D
              is still near chance, so only ``diverged`` is judged on fewer rows
    """

    def __init__(self, monitor, every: int = 200, stop_on=(), window: int = 4096,
                 min_rows: int = 100):
        self.monitor = monitor
        self.every = max(1, int(every))
        self.stop_on = tuple(stop_on)
        self.window = int(window)
        self.min_rows = int(min_rows)
        self._buf = np.full((len(_COLS), self.window), np.nan)
        self._bad = np.zeros((len(_COLS), self.window), bool)   # explicit NaN/inf (None in JSON)
        self._n = 0                                              # rows ever appended
        self._names: dict[str, int | None] = {}                  # logged key -> buffer row
        self._last_run: float = -math.inf
        self._active: set[str] = set()
        self.runs = 0                                            # detector passes (for tests)
        self.disabled = False                                    # set after an internal error

    def _slot(self, key: str) -> int | None:
        if key not in self._names:
            name = "step" if key == "step" else canonical_name(key) or key
            self._names[key] = _COLS.index(name) if name in _COLS else None
        return self._names[key]

    def update(self, rows: list[dict]) -> list[dict]:
        """Append rows written by Monitor.flush; run the detectors when due; return new warnings."""
        for r in rows:
            j = self._n % self.window
            self._buf[:, j] = np.nan
            self._bad[:, j] = False
            for k, v in r.items():
                i = self._slot(k)
                if i is None:
                    continue
                if v is None or isinstance(v, float) and not math.isfinite(v):
                    self._bad[i, j] = True
                    self._buf[i, j] = np.nan if v is None else v
                elif isinstance(v, (int, float)):
                    self._buf[i, j] = v
            self._n += 1
        if not rows:
            return []
        step = rows[-1].get("step", self._n)
        if step - self._last_run >= self.every:
            self._last_run = step
            return self.check()
        return []

    def table(self) -> Table:
        """The window as a Table, oldest row first."""
        n = min(self._n, self.window)
        order = np.arange(self._n - n, self._n) % self.window
        cols = {name: self._buf[i, order] for i, name in enumerate(_COLS)}
        bad = {name: self._bad[i, order] for i, name in enumerate(_COLS) if self._bad[i, order].any()}
        return Table(columns=cols, source=str(getattr(self.monitor, "dir", "live")),
                     report={"format": "live", "rows": n}, nonfinite=bad)

    def check(self) -> list[dict]:
        """Run the detectors now; warn about codes that were not firing at the previous check."""
        from diagnose.dynamics.detectors import detect

        if self.disabled:
            return []
        self.runs += 1
        try:
            early = min(self._n, self.window) < self.min_rows
            flags = [f for f in detect(self.table()) if f.severity in ("warn", "fail")
                     and not (early and f.code != "diverged")]
        except Exception as e:  # noqa: BLE001 - a detector bug must never end the user's training
            import sys

            self.disabled = True
            print(f"[gan-diagnose] live detectors disabled after an internal error: "
                  f"{type(e).__name__}: {e}", file=sys.stderr)
            return []
        now = {f.code for f in flags}
        new = [f.to_dict() for f in flags if f.code not in self._active]
        self._active = now
        for fd in new:
            fd["live"] = True
            self.monitor.warn(fd)
        return new

    def finish(self) -> list[dict]:
        """Last check at close, so a problem in the final rows is not missed."""
        if self._n and self._last_run < self._buf[0, (self._n - 1) % self.window]:
            return self.check()
        return []
