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
from dataclasses import dataclass, field, replace
from pathlib import Path

from diagnose import runs as R
from diagnose.core.errors import UserError

from dashboards.columns import MAX_JSON_DEPTH, Columns, MetricsCache, loads_bounded  # noqa: F401

SEVERITY_RANK = {"ok": 0, "pending": 0, "info": 1, "warn": 2, "damaged": 2, "fail": 3}
LIVE_SECONDS = 30.0  # metrics.jsonl written this recently and no verdict yet: the run is live
#: A metrics.jsonl above this is parsed in the background (not by the verdict card), and the
#: curves are first drawn from a bounded preview of it (:meth:`RunStore.curves`).
LIGHT_BYTES = 8 << 20
_TAIL = 64 << 10
_SPARK_POINTS = 32        # rows sampled across metrics.jsonl for the run browser's sparklines
_SPARK_WINDOW = 4 << 10   # bytes read at each sample point
def _half_written(path: Path) -> bool:
    """True when ``path`` is JSON cut off mid-write (a writer that is not atomic, still going):
    such a run is pending, not damaged. Too deep or not an object is damage."""
    import json

    try:
        json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except RecursionError:
        return False
    except ValueError:
        return True
    except OSError:
        return True
    return False


class DamagedRun(UserError):
    """A run directory whose files cannot be read as a run (shown as "damaged", never raised on)."""


def signature(path: Path) -> tuple:
    """(name, size, mtime_ns) of every file a page draws from: changes iff something was written."""
    sig = []
    for name in (R.CONFIG, R.METRICS, R.EVALS, R.WARNINGS, R.VERDICT, R.SAMPLES):
        try:
            st = (path / name).stat()
            sig.append((name, st.st_size, st.st_mtime_ns))
        except (OSError, ValueError):
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
            obj = loads_bounded(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(obj, dict):
            return obj
    return {}


def sample_rows(path: Path, k: int = _SPARK_POINTS) -> list[dict]:
    """About ``k`` rows spread evenly over a JSONL file, reading ~4 KB at each point.

    The run browser draws its sparklines from these: the cost per run is bounded whatever the
    length of the log (a million-step run is not parsed to draw 24 characters).
    """
    rows: list[dict] = []
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size <= k * _SPARK_WINDOW:  # small file: read it all, keep every row
                f.seek(0)
                lines = f.read().split(b"\n")[:-1]
            else:
                lines = []
                for i in range(k):
                    f.seek(int(i * (size - _SPARK_WINDOW) / max(k - 1, 1)))
                    chunk = f.read(_SPARK_WINDOW).split(b"\n")
                    if len(chunk) > 2:  # the first piece may be the tail of a cut line
                        lines.append(chunk[1] if i else chunk[0])
    except (OSError, ValueError):
        return []
    for line in lines:
        try:
            obj = loads_bounded(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(obj, dict):
            rows.append(obj)
    return rows


def number(v, *, finite: bool = False) -> float | None:
    """A float from a JSON value, else None: bools, strings, ints too large for a float and NaN
    are not numbers; with ``finite`` neither is +-inf."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    if f != f or (finite and f in (float("inf"), float("-inf"))):
        return None
    return f


_num = number


def clean_flag(f) -> dict | None:
    """A flag dict with the types the pages rely on (str code/severity/summary, list advice)."""
    if not isinstance(f, dict) or not f.get("code"):
        return None
    out = dict(f)
    out["code"] = str(f.get("code"))[:80]
    sev = f.get("severity")
    out["severity"] = sev if sev in ("info", "warn", "fail") else "warn"
    out["summary"] = str(f.get("summary") or "")[:2000]
    adv = f.get("advice")
    out["advice"] = [str(a)[:1000] for a in adv] if isinstance(adv, list) else []
    steps = f.get("steps")
    ok = isinstance(steps, (list, tuple)) and len(steps) == 2 and all(_num(v) is not None for v in steps)
    out["steps"] = [steps[0], steps[1]] if ok else None
    return out


def clean_verdict(v) -> dict | None:
    """verdict.json with wrong types repaired or dropped, so a hand-edited file cannot break a page."""
    if not isinstance(v, dict):
        return None
    out = dict(v)
    code = v.get("verdict")
    out["verdict"] = str(code)[:80] if isinstance(code, (str, int, float)) and code != "" else None
    conf = _num(v.get("confidence"))
    out["confidence"] = conf
    out["flags"] = [c for c in map(clean_flag, v.get("flags") or [] if isinstance(v.get("flags"), list)
                                   else []) if c]
    out["metrics"] = {str(k): m for k, m in v.get("metrics").items() if isinstance(m, dict)} \
        if isinstance(v.get("metrics"), dict) else {}
    return out


def flags_of(run: R.Run) -> list[dict]:
    """Flags from verdict.json, then live warnings not already in it (same code and steps)."""
    out, seen = [], set()
    for src, items in (("verdict", (run.verdict or {}).get("flags") or []), ("live", run.warnings)):
        for f in items:
            f = clean_flag(f)
            if f is None:
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


def verdict_step(run: R.Run) -> float | None:
    """The step the verdict's sample check measured (its checkpoint), else the verdict's step."""
    v = run.verdict or {}
    subject = (v.get("samples") or {}).get("subject") if isinstance(v.get("samples"), dict) else None
    if isinstance(subject, str):
        m = R._STEP_FILE.match(Path(subject).name)
        if m:
            return float(m.group(1))
    step = _num(v.get("step"))
    if step is not None:
        return step
    return float(run.samples[-1][0]) if run.samples else None


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
    spark: dict = field(default_factory=dict)   # field -> sampled values for a sparkline
    damaged: str = ""                          # why the run could not be read ("" when fine)
    mtime: float = 0.0


@dataclass
class RunView:
    """Everything the run page draws, for one signature of the run directory."""

    run_id: str
    run: R.Run
    columns: Columns | None   # None: not parsed yet (see RunStore.view(parse=False))
    flags: list[dict]
    severity: str
    sig: tuple = field(default=())


class RunStore:
    """Reads and caches the runs under ``root``; safe to share between callback threads."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.metrics = MetricsCache()
        self._small: dict[Path, tuple[tuple, R.Run]] = {}
        self._summaries: dict[Path, tuple[tuple, RunSummary]] = {}
        self._lock = threading.Lock()
        self._prefetching = False
        self._warming: set[Path] = set()
        self.rebuilt = 0   # summaries rebuilt since start (the listing refresh's work, for tests)

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
                    try:
                        self.metrics.get(Path(p) / R.METRICS)
                    except Exception:  # a damaged log: its page says so when opened
                        continue
            finally:
                self._prefetching = False

        threading.Thread(target=work, daemon=True, name="dash-prefetch").start()
        return True

    def warm(self, run_id: str) -> bool:
        """Start parsing one run's metrics in a background thread now; True if started.

        Called as soon as a run page is requested: the parse then overlaps the page's own
        round trips (HTML, layout, scripts, the first callbacks) instead of starting with the
        curves' callback. Refused ids, logs small enough to parse inline (LIGHT_BYTES) and
        cached or already-parsing logs start nothing.
        """
        try:
            m_path = self.resolve(run_id) / R.METRICS
            if m_path.stat().st_size <= LIGHT_BYTES:
                return False
        except (UserError, OSError):
            return False
        with self._lock:
            if m_path in self._warming or self.metrics.peek(m_path) is not None:
                return False
            self._warming.add(m_path)

        def work():
            try:
                self.metrics.get(m_path)
            except Exception:  # a damaged log: its page says so when the curves ask for it
                pass
            finally:
                with self._lock:
                    self._warming.discard(m_path)

        threading.Thread(target=work, daemon=True, name="dash-warm").start()
        return True

    # ----------------------------------------------------------------------------- ids
    def run_id(self, path: Path) -> str:
        """The id of a run directory: its path relative to the root, '/'-separated ('.' = root)."""
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return rel or "."

    def resolve(self, run_id: str) -> Path:
        """Path of a run id, refused (UserError) outside the root or when it is not a run.

        A NUL byte, a symlink loop or an unreadable path is refused the same way (one message,
        never an exception from the OS layer reaching a callback).
        """
        if not isinstance(run_id, str) or not run_id or "\x00" in run_id or len(run_id) > 4096 \
                or Path(run_id).is_absolute():
            raise UserError(f"bad run id {str(run_id)[:200]!r}")
        try:
            path = R.resolve_inside(self.root, run_id)
            is_run = R.is_run_dir(path)
        except UserError:
            raise
        except (OSError, RuntimeError, ValueError) as e:  # RuntimeError: a symlink loop (< 3.13)
            raise UserError(f"run id {run_id[:200]!r} cannot be resolved: "
                            f"{type(e).__name__}: {str(e)[:200]}") from None
        if not is_run:
            raise UserError(f"no run {run_id[:200]!r} under the runs root")
        return path

    # ---------------------------------------------------------------------------- reads
    def _small_files(self, path: Path, sig: tuple) -> R.Run:
        with self._lock:
            hit = self._small.get(path)
        if hit and hit[0] == sig:
            return hit[1]
        try:
            run = R.read_run(path, metrics=False)
        except UserError:
            raise
        except (Exception, RecursionError) as e:  # damaged content: this run only, never the page
            raise DamagedRun(f"damaged run {path.name!r}: {type(e).__name__}: "
                             f"{' '.join(str(e).split())[:200]}") from None
        lost = [m for m in getattr(run, "problems", []) if "unreadable" in m
                and not _half_written(path / m.split()[0])]
        if lost:     # a whole file the reader had to drop (too deep, not an object): damaged
            raise DamagedRun(f"damaged run {path.name!r}: {'; '.join(lost)[:200]}")
        run.verdict = clean_verdict(run.verdict)
        if not isinstance(run.config, dict):
            run.config = {}
        run.evals = [r for r in run.evals if isinstance(r, dict)]
        run.warnings = [r for r in run.warnings if isinstance(r, dict)]
        with self._lock:
            self._small[path] = (sig, run)
        return run

    def signature(self, run_id: str) -> tuple:
        """The run's file signature (see :func:`signature`)."""
        return signature(self.resolve(run_id))

    def view(self, run_id: str, parse: bool = True) -> RunView:
        """The run page's data for ``run_id`` (cached until a file changes); UserError if refused.

        parse=False: a big metrics.jsonl not parsed yet is left for later (``columns`` is None),
        so the verdict card can be drawn before a million-step log is read.
        """
        path = self.resolve(run_id)
        sig = signature(path)
        run = self._small_files(path, sig)
        flags = flags_of(run)
        m_path = path / R.METRICS
        if not parse:
            cols = self.metrics.peek(m_path)
            m_size = next((x[1] for x in sig if x[0] == R.METRICS), None) or 0
            if cols is None and m_size > LIGHT_BYTES:
                return RunView(run_id=self.run_id(path), run=run, columns=None, flags=flags,
                               severity=severity_of(run, flags), sig=sig)
        try:
            columns = self.metrics.get(m_path)
        except (Exception, RecursionError) as e:
            raise DamagedRun(f"damaged metrics.jsonl in {run_id[:200]!r}: {type(e).__name__}: "
                             f"{' '.join(str(e).split())[:200]}") from None
        return RunView(run_id=self.run_id(path), run=run, columns=columns,
                       flags=flags, severity=severity_of(run, flags), sig=sig)

    def curves(self, run_id: str) -> RunView:
        """The view the run page's curves draw: the parsed columns, or for a long log not parsed
        yet a preview (``columns.sampled``: evenly spaced rows, bounded cost) while :meth:`warm`
        parses the whole file in the background. The page draws the full figure when
        :meth:`parsing` turns False. A long log that only grew since its last parse is extended
        here instead (only the appended bytes are read), so a live run's curves stay full.
        """
        view = self.view(run_id, parse=False)
        if view.columns is not None:
            return view
        m_path = view.run.path / R.METRICS
        if not self.metrics.known(m_path):
            self.warm(run_id)
            if self.parsing(run_id):
                return replace(view, columns=self.metrics.preview(m_path))
        return self.view(run_id)

    def parsing(self, run_id: str) -> bool:
        """Whether a background parse of the run's metrics.jsonl (see :meth:`warm`) is running."""
        try:
            m_path = self.resolve(run_id) / R.METRICS
        except UserError:
            return False
        with self._lock:
            return m_path in self._warming

    def _summary(self, path: Path, sig: tuple) -> RunSummary:
        try:
            run = self._small_files(path, sig)
        except DamagedRun as e:
            return RunSummary(run_id=self.run_id(path), experiment=path.parent.name or "(root)",
                              variant=path.name, verdict="damaged", severity="damaged",
                              confidence=None, last={}, metrics={}, n_flags=0, live=False,
                              path=path, damaged=str(e))
        flags = flags_of(run)
        v = run.verdict or {}
        m_path = path / R.METRICS
        rows = sample_rows(m_path)
        spark = {k: [r.get(k) for r in rows if _num(r.get(k)) is not None]
                 for k in ("d_loss", "g_loss")}
        last = last_row(m_path)
        verdict = v.get("verdict") or ("warnings" if flags else "no verdict yet")
        return RunSummary(
            run_id=self.run_id(path), experiment=run.experiment, variant=run.variant,
            verdict=str(verdict), severity=severity_of(run, flags), confidence=v.get("confidence"),
            last=last, metrics=eval_metrics(run), n_flags=len(flags), live=False, path=path,
            spark=spark)

    def summaries(self) -> list[RunSummary]:
        """One summary per run under the root, sorted by experiment then variant.

        Each summary is rebuilt only when its run's file signature moved: an unchanged run costs
        a few ``stat`` calls per refresh, whatever the number of runs.
        """
        out = []
        now = time.time()
        seen = set()
        for path in R.discover_runs(self.root):
            sig = signature(path)
            seen.add(path)
            with self._lock:
                hit = self._summaries.get(path)
            if hit and hit[0] == sig:
                s = hit[1]
            else:
                try:
                    s = self._summary(path, sig)
                except UserError:  # vanished between discovery and read
                    continue
                self.rebuilt += 1
                with self._lock:
                    self._summaries[path] = (sig, s)
            m_sig = next((x for x in sig if x[0] == R.METRICS), None)
            mtime = (m_sig[2] or 0) / 1e9 if m_sig else 0
            s.live = bool(mtime and now - mtime < LIVE_SECONDS and s.verdict in
                          ("no verdict yet", "warnings"))
            out.append(s)
        with self._lock:
            for p in [p for p in self._summaries if p not in seen]:
                del self._summaries[p]
        return sorted(out, key=lambda s: (s.experiment, s.variant, s.run_id))

    def experiments(self) -> dict[str, list[RunSummary]]:
        """Summaries grouped by experiment name."""
        groups: dict[str, list[RunSummary]] = {}
        for s in self.summaries():
            groups.setdefault(s.experiment, []).append(s)
        return groups
