"""What the dashboard knows about the runs under one root, read through diagnose.runs and cached.

Run ids are paths relative to the runs root (``exp/variant``); every id coming from a URL or a
callback goes through :func:`diagnose.runs.resolve_inside`, which refuses anything outside the
root. A run's small files are re-read only when the signature (size and mtime of each file) moves;
metrics.jsonl goes through :class:`dashboards.columns.MetricsCache`.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from diagnose import runs as R
from diagnose.errors import UserError

from dashboards.columns import Columns, MetricsCache

SEVERITY_RANK = {"ok": 0, "pending": 0, "info": 1, "warn": 2, "fail": 3}
LIVE_SECONDS = 30.0  # metrics.jsonl written this recently and no verdict yet: the run is live
_TAIL = 64 << 10


def signature(path: Path) -> tuple:
    """(name, size, mtime_ns) of every file a page draws from: changes iff something was written."""
    sig = []
    for name in (R.CONFIG, R.METRICS, R.EVALS, R.WARNINGS, R.VERDICT, R.SAMPLES):
        try:
            st = (path / name).stat()
            sig.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            sig.append((name, None, None))
    return tuple(sig)


def last_row(path: Path) -> dict:
    """Last complete JSON object of a JSONL file, reading only its tail (cheap for huge logs)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _TAIL))
            lines = f.read().split(b"\n")
    except OSError:
        return {}
    for line in reversed(lines[:-1] if len(lines) > 1 else lines):
        try:
            obj = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict):
            return obj
    return {}


def flags_of(run: R.Run) -> list[dict]:
    """Flags from verdict.json, then live warnings not already in it (same code and steps)."""
    out, seen = [], set()
    for src, items in (("verdict", (run.verdict or {}).get("flags") or []), ("live", run.warnings)):
        for f in items:
            if not isinstance(f, dict) or not f.get("code"):
                continue
            steps = f.get("steps")
            key = (f.get("code"), tuple(steps) if isinstance(steps, list) else None)
            if key in seen:
                continue
            seen.add(key)
            out.append({**f, "source": src})
    return out


def severity_of(run: R.Run, flags: list[dict]) -> str:
    """Badge colour: the verdict flag's severity; ``ok`` when healthy; ``pending`` with nothing."""
    v = run.verdict or {}
    code = v.get("verdict")
    if code == "healthy":
        return "ok"
    sev = [f.get("severity", "warn") for f in flags if code is None or f.get("code") == code]
    sev = [s for s in sev if s in SEVERITY_RANK] or ([] if code is None else ["warn"])
    return max(sev, key=SEVERITY_RANK.get) if sev else "pending"


def eval_metrics(run: R.Run) -> dict[str, dict]:
    """Latest value of every metric: verdict.json's ``metrics``, else the last evals.jsonl row."""
    v = (run.verdict or {}).get("metrics") or {}
    if v:
        return {k: m for k, m in v.items() if isinstance(m, dict) and "value" in m}
    last = run.evals[-1] if run.evals else {}
    return {k: m for k, m in last.items() if isinstance(m, dict) and "value" in m}


@dataclass
class RunSummary:
    """One line of the run browser."""

    run_id: str
    experiment: str
    variant: str
    verdict: str
    severity: str
    confidence: float | None
    last: dict
    metrics: dict
    n_flags: int
    live: bool
    path: Path | None = None


@dataclass
class RunView:
    """Everything the run page draws, for one signature of the run directory."""

    run_id: str
    run: R.Run
    columns: Columns
    flags: list[dict]
    severity: str
    sig: tuple = field(default=())


class RunStore:
    """Reads and caches the runs under ``root``; safe to share between callback threads."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.metrics = MetricsCache()
        self._small: dict[Path, tuple[tuple, R.Run]] = {}
        self._lock = threading.Lock()
        self._prefetching = False

    def prefetch(self, paths: list[Path]) -> bool:
        """Parse the metrics of ``paths`` in a background thread (one at a time); True if started.

        The run browser calls this for the runs it lists, so the run a person clicks next is
        usually parsed already: a million-step log costs about a second to parse cold.
        """
        with self._lock:
            if self._prefetching:
                return False
            self._prefetching = True

        def work():
            try:
                for p in paths[: self.metrics.max_entries]:
                    self.metrics.get(Path(p) / R.METRICS)
            finally:
                self._prefetching = False

        threading.Thread(target=work, daemon=True, name="dash-prefetch").start()
        return True

    # ----------------------------------------------------------------------------- ids
    def run_id(self, path: Path) -> str:
        """The id of a run directory: its path relative to the root, '/'-separated ('.' = root)."""
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return rel or "."

    def resolve(self, run_id: str) -> Path:
        """Path of a run id, refused (UserError) outside the root or when it is not a run."""
        if not run_id or "\x00" in run_id or Path(run_id).is_absolute():
            raise UserError(f"bad run id {run_id!r}")
        path = R.resolve_inside(self.root, run_id)
        if not R.is_run_dir(path):
            raise UserError(f"no run {run_id!r} under the runs root")
        return path

    # ---------------------------------------------------------------------------- reads
    def _small_files(self, path: Path, sig: tuple) -> R.Run:
        with self._lock:
            hit = self._small.get(path)
        if hit and hit[0] == sig:
            return hit[1]
        run = R.read_run(path, metrics=False)
        with self._lock:
            self._small[path] = (sig, run)
        return run

    def signature(self, run_id: str) -> tuple:
        """The run's file signature (see :func:`signature`)."""
        return signature(self.resolve(run_id))

    def view(self, run_id: str) -> RunView:
        """The run page's data for ``run_id`` (cached until a file changes)."""
        path = self.resolve(run_id)
        sig = signature(path)
        run = self._small_files(path, sig)
        flags = flags_of(run)
        return RunView(run_id=self.run_id(path), run=run, columns=self.metrics.get(path / R.METRICS),
                       flags=flags, severity=severity_of(run, flags), sig=sig)

    def summaries(self) -> list[RunSummary]:
        """One summary per run under the root, sorted by experiment then variant."""
        out = []
        now = time.time()
        for path in R.discover_runs(self.root):
            sig = signature(path)
            try:
                run = self._small_files(path, sig)
            except UserError:  # vanished between discovery and read
                continue
            flags = flags_of(run)
            v = run.verdict or {}
            m_path = path / R.METRICS
            try:
                fresh = now - m_path.stat().st_mtime < LIVE_SECONDS
            except OSError:
                fresh = False
            verdict = v.get("verdict") or ("warnings" if flags else "no verdict yet")
            out.append(RunSummary(
                run_id=self.run_id(path), experiment=run.experiment, variant=run.variant,
                verdict=str(verdict), severity=severity_of(run, flags),
                confidence=v.get("confidence"), last=last_row(m_path), metrics=eval_metrics(run),
                n_flags=len(flags), live=fresh and run.verdict is None, path=path))
        return sorted(out, key=lambda s: (s.experiment, s.variant, s.run_id))

    def experiments(self) -> dict[str, list[RunSummary]]:
        """Summaries grouped by experiment name."""
        groups: dict[str, list[RunSummary]] = {}
        for s in self.summaries():
            groups.setdefault(s.experiment, []).append(s)
        return groups
