"""The run directory: writer and reader, the only seam between trainers, diagnose and dashboards.

Layout::

    <run>/config.json                 resolved config (atomic)
    <run>/metrics.jsonl               one object per logged step (append-only, flushed per write)
    <run>/evals.jsonl                 one object per snapshot evaluation
    <run>/warnings.jsonl              live detector warnings (append-only)
    <run>/samples/step_XXXXXXX.png    grid from the fixed latent batch (atomic)
    <run>/checkpoints/step_XXXXXXX.pt self-describing checkpoint (atomic)
    <run>/verdict.json                latest verdict (atomic)

JSONL rules: one object per line, each line flushed when written; readers skip a partial or
corrupt line and count it; a writer opened on an existing file first cuts off a partial last line
(a run killed mid-write); a resumed writer skips the steps already in the file (the replay after
the last checkpoint) and raises on any other step at or below the last one written.

One writer per run directory: :class:`RunWriter` holds :class:`diagnose.runs.lock.RunLock` until it
is closed, and refuses a directory that already holds a run unless told to resume or overwrite.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from diagnose.core.atomic import atomic_torch_save, atomic_write_json, remove_stale_temps, sanitize_json
from diagnose.core.errors import StepOrderError, UserError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
EVALS = "evals.jsonl"
WARNINGS = "warnings.jsonl"
VERDICT = "verdict.json"
SAMPLES = "samples"
CHECKPOINTS = "checkpoints"
FIXED_LATENT = "fixed_latent.pt"

_STEP_FILE = re.compile(r"^step_(\d+)\.(png|pt)$")


def step_name(step: int, ext: str) -> str:
    """File name of a snapshot artefact: ``step_0001200.png``."""
    return f"step_{int(step):07d}.{ext}"


# ----------------------------------------------------------------------------------------- JSONL
def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


#: Deepest nesting a run file may have (configs and verdicts use under 10 levels).
MAX_DEPTH = 64
#: Integers with more digits are read as floats (inf beyond float range): no reader has to
#: handle a 400-digit integer, and float(int) never overflows downstream.
MAX_INT_DIGITS = 18
#: Largest step magnitude a row may have (an int64).
MAX_STEP = 2 ** 63 - 1


def _parse_int(text: str):
    digits = len(text) - (text[0] == "-")
    return int(text) if digits <= MAX_INT_DIGITS else float(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int)


def _depth_ok(obj, limit: int = MAX_DEPTH) -> bool:
    """Whether ``obj`` nests at most ``limit`` containers deep (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            o = o.values()
        elif not isinstance(o, list):
            continue
        if d > limit:
            return False
        stack.extend((v, d + 1) for v in o if isinstance(v, (dict, list)))
    return True


def loads_bounded(text: str | bytes):
    """``json.loads`` for files anyone may have edited: ValueError (never RecursionError) for
    nesting deeper than MAX_DEPTH, integers longer than MAX_INT_DIGITS read as floats.

    The one JSON reader of run files, JSONL lines, lock records and cache descriptions.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        obj = _DECODER.decode(text.strip() if isinstance(text, str) else text)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if not _depth_ok(obj):
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return obj


def valid_step(v) -> int | None:
    """A row's ``step`` as an int, or None when it is not an integer within int64 range."""
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        if not (math.isfinite(v) and v.is_integer()):
            return None
        v = int(v)
    if isinstance(v, int) and -MAX_STEP <= v <= MAX_STEP:
        return v
    return None


def parse_row(line: bytes | str) -> dict | None:
    """One JSONL line as a dict, or None when it is partial, corrupt, too deep, not an object or
    carries a ``step`` that is not an integer in range (those rows cannot be placed on an axis)."""
    try:
        obj = loads_bounded(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    if "step" in obj:
        s = valid_step(obj["step"])
        if s is None:
            return None
        obj["step"] = s
    return obj


def read_jsonl(path: str | os.PathLike) -> tuple[list[dict], int]:
    """Read a JSONL file; return (objects, number of lines skipped as partial or corrupt).

    A missing or unreadable file reads as empty. Lines that are not a JSON object, nest too deep
    or carry an invalid step are skipped and counted (:func:`parse_row`), never raised.
    """
    path = Path(path)
    rows: list[dict] = []
    skipped = 0
    try:
        f = open(path, "rb")
    except OSError:
        return [], 0
    with f:
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            obj = parse_row(line)
            if obj is None:
                skipped += 1
            else:
                rows.append(obj)
    return rows, skipped


def _max_key(path: Path, key: str) -> float:
    """Largest numeric ``key`` of the valid rows of a JSONL file (streamed), or -inf."""
    best = -math.inf
    try:
        f = open(path, "rb")
    except OSError:
        return best
    with f:
        for raw in f:
            if raw.strip():
                row = parse_row(raw)
                if row is not None and _is_number(row.get(key)) and row[key] > best:
                    best = row[key]
    return best


class JsonlAppender:
    """Append-only JSONL writer keyed by ``step``: a step already in the file is never written again.

    On open it repairs a partial last line left by a killed writer (cuts the file back to the last
    newline), and reads the largest step present so a resumed run skips what it already logged.
    """

    def __init__(self, path: str | os.PathLike, key: str = "step"):
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self.last_key: float = _max_key(self.path, key)
        #: keys up to here were in the file when it was opened: a resumed run replays them
        #: (training restarts at its last checkpoint) and they are skipped, not written twice.
        self.replay_until: float = self.last_key
        self.replayed = 0
        # Unbuffered: every append is one os.write of whole lines, so a failed write (disk full)
        # can be cut back to the last complete line instead of lingering in a buffer.
        self._f = open(self.path, "ab", buffering=0)
        self._size = os.fstat(self._f.fileno()).st_size

    def _repair(self) -> None:
        """Cut a partial last line (reading only the file's tail, not the whole file)."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as f:
            end = f.seek(0, os.SEEK_END)
            pos = end
            while pos > 0:
                step = min(1 << 16, pos)
                f.seek(pos - step)
                chunk = f.read(step)
                if pos == end and chunk.endswith(b"\n"):
                    return
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    f.truncate(pos - step + nl + 1)
                    return
                pos -= step
            f.truncate(0)

    def _admit(self, k) -> bool:
        """Whether key ``k`` is written: new keys yes, replayed ones no; going back raises."""
        if k is None:
            return True
        if not _is_number(k):
            raise StepOrderError(f"{self.key} {k!r} is not a number; {self.path.name} is keyed by it")
        if k <= self.replay_until:
            self.replayed += 1
            return False
        if k <= self.last_key:
            raise StepOrderError(f"{self.key} {k} is at or below {self.key} {self.last_key} already "
                                 f"written to {self.path}: {self.key}s must increase (log each "
                                 f"{self.key} once, with all its values in one call); not written")
        return True

    def append(self, obj: dict) -> bool:
        """Write one object; False for a resumed run's replay of a key already in the file.

        StepOrderError (nothing written) for a key at or below one written since the file was opened.
        """
        k = obj.get(self.key)
        if not self._admit(k):
            return False
        self._write(json.dumps(sanitize_json(obj), separators=(",", ":")) + "\n")
        if k is not None:
            self.last_key = k
        return True

    def _write(self, text: str) -> None:
        """Append whole lines; on failure cut the file back to its last complete line and raise
        (a full disk as DiskFullError naming the file)."""
        from diagnose.core.errors import DiskFullError, is_disk_full

        raw = text.encode("utf-8")
        data = memoryview(raw)
        fd = self._f.fileno()
        try:
            while data:
                n = os.write(fd, data)
                data = data[n:]
        except OSError as e:
            try:
                os.ftruncate(fd, self._size)
            except OSError:
                pass
            if is_disk_full(e):
                raise DiskFullError(self.path, e.errno) from None
            raise
        self._size += len(raw)

    def extend(self, objs: Iterable[dict]) -> int:
        """Append many objects with one flush; return how many were written."""
        n = 0
        lines = []
        last = self.last_key
        try:
            for obj in objs:
                k = obj.get(self.key)
                if not self._admit(k):
                    continue
                lines.append(json.dumps(sanitize_json(obj), separators=(",", ":")) + "\n")
                if k is not None:
                    self.last_key = k
                n += 1
        except StepOrderError:
            self.last_key = last          # nothing of this batch was written
            raise
        if lines:
            try:
                self._write("".join(lines))
            except BaseException:
                self.last_key = last
                raise
        return n

    def close(self) -> None:
        """Flush to disk and close."""
        if not self._f.closed:
            try:
                os.fsync(self._f.fileno())
            except OSError as e:
                from diagnose.core.errors import DiskFullError, is_disk_full

                self._f.close()
                if is_disk_full(e):
                    raise DiskFullError(self.path, e.errno) from None
                raise
            self._f.close()


# ---------------------------------------------------------------------------------------- writer
class RunWriter:
    """Writes one run directory. Used by :class:`diagnose.Monitor`; trainers go through Monitor.

    resume:    continue the run already in the directory (steps already logged are skipped)
    overwrite: delete the run already in the directory (only the files a run writes) and start again
    lock:      a :class:`diagnose.runs.lock.RunLock` the caller already holds (else one is taken);
               released by :meth:`close`
    A directory holding a run refuses a writer with neither flag; a directory another writer holds
    refuses every writer (one line naming the holder).
    """

    def __init__(self, run_dir: str | os.PathLike, resume: bool = False, overwrite: bool = False,
                 lock=None):
        from diagnose.runs.lock import RunLock

        self.dir = Path(run_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {self.dir}: {e.strerror or e}") from None
        if not os.access(self.dir, os.W_OK):
            raise UserError(f"run directory {self.dir} is not writable")
        self.lock = lock if lock is not None else RunLock(self.dir).acquire()
        try:
            self._open(resume, overwrite)
        except BaseException:
            self.lock.release()
            raise

    def _open(self, resume: bool, overwrite: bool) -> None:
        found = run_artifacts(self.dir)
        if found and not resume:
            if not overwrite:
                raise UserError(f"{self.dir} already holds a run ({', '.join(found[:4])}): pass "
                                "resume=True (--resume) to continue it or overwrite=True "
                                "(--overwrite) to replace it")
            remove_run(self.dir)
        try:
            (self.dir / SAMPLES).mkdir(exist_ok=True)
            (self.dir / CHECKPOINTS).mkdir(exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {self.dir}: {e.strerror or e}") from None
        # A killed writer may have left temporaries of atomic writes behind; this writer holds
        # the lock, so whatever temporaries are there now are stale.
        for folder in (self.dir, self.dir / SAMPLES, self.dir / CHECKPOINTS):
            remove_stale_temps(folder)
        self.resume = resume
        self.metrics = JsonlAppender(self.dir / METRICS)
        self.evals = JsonlAppender(self.dir / EVALS)
        self.warnings = JsonlAppender(self.dir / WARNINGS, key="_none_")

    def write_config(self, config: dict) -> None:
        """Write config.json (atomic). On resume an existing config is kept as is."""
        path = self.dir / CONFIG
        if self.resume and path.exists():
            return
        atomic_write_json(path, config)

    def write_verdict(self, verdict: dict) -> None:
        """Write verdict.json (atomic)."""
        atomic_write_json(self.dir / VERDICT, verdict)

    def sample_path(self, step: int) -> Path:
        return self.dir / SAMPLES / step_name(step, "png")

    def checkpoint_path(self, step: int) -> Path:
        return self.dir / CHECKPOINTS / step_name(step, "pt")

    def save_checkpoint(self, step: int, state: dict) -> Path:
        """Save a checkpoint dict (atomic)."""
        return atomic_torch_save(self.checkpoint_path(step), state)

    def close(self) -> None:
        """Close the JSONL files and release the writer lock."""
        try:
            for f in (self.metrics, self.evals, self.warnings):
                f.close()
        finally:
            self.lock.release()


#: Names a run writes at the top of its directory (``samples``/``checkpoints`` are folders).
RUN_FILES = (CONFIG, METRICS, EVALS, WARNINGS, VERDICT, FIXED_LATENT)


def run_artifacts(run_dir: str | os.PathLike) -> list[str]:
    """Names of a run's files present in ``run_dir`` (non-empty step folders included)."""
    d = Path(run_dir)
    found = [n for n in RUN_FILES if (d / n).exists()]
    for sub in (SAMPLES, CHECKPOINTS):
        try:
            if any(_STEP_FILE.match(p.name) for p in (d / sub).iterdir()):
                found.append(f"{sub}/")
        except OSError:
            pass
    return found


def remove_run(run_dir: str | os.PathLike) -> None:
    """Delete a run's files from ``run_dir`` (only the names a run writes); the caller holds its lock."""
    import shutil

    d = Path(run_dir)
    for name in RUN_FILES:
        (d / name).unlink(missing_ok=True)
    for name in (SAMPLES, CHECKPOINTS):
        if (d / name).is_dir() and not (d / name).is_symlink():
            shutil.rmtree(d / name)


# ---------------------------------------------------------------------------------------- reader
def step_files(folder: Path, ext: str) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = _STEP_FILE.match(p.name)
        if m and m.group(2) == ext:
            out.append((int(m.group(1)), p))
    return sorted(out)


def read_json_file(path: str | os.PathLike, max_bytes: int = 64 << 20) -> dict | None:
    """A JSON object file (config.json, verdict.json), or None when missing, unreadable, larger
    than ``max_bytes``, not an object or nested too deep."""
    try:
        p = Path(path)
        if p.stat().st_size > max_bytes:
            return None
        obj = loads_bounded(p.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None




def _list_of(kind, n=None):
    def ok(v):
        return (isinstance(v, list) and (n is None or len(v) == n)
                and all(isinstance(x, kind) and not isinstance(x, bool) for x in v))
    return ok


def _is_str(v) -> bool:
    return isinstance(v, str)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_dict(v) -> bool:
    return isinstance(v, dict)


def _finite_pair(v) -> bool:
    return (_list_of((int, float), 2)(v) and all(math.isfinite(x) for x in v)
            and v[0] < v[1])


def _model_spec(v) -> bool:
    return isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("kwargs", {}), dict)


#: Types of the config.json keys readers use (config.json and a checkpoint's ``config``).
CONFIG_TYPES = {
    "experiment": _is_str, "variant": _is_str, "description": _is_str, "source": _is_str,
    "dataset": lambda v: isinstance(v, (str, dict)), "device": _is_str,
    "generator": _model_spec, "discriminator": _model_spec,
    "losses": _is_dict, "optimizer": _is_dict, "schedule": _is_dict, "data": _is_dict,
    "loop": _is_dict, "train": _is_dict, "versions": _is_dict,
    "value_range": lambda v: v is None or _finite_pair(v),
    "g_output_range": lambda v: v is None or _finite_pair(v),
    "latent_shape": lambda v: v is None or (_list_of(int)(v) and bool(v) and all(0 < x < 1 << 20 for x in v)),
    "batch": _is_int, "steps": _is_int, "steps_per_epoch": _is_int, "snapshot_every": _is_int,
    "seed": _is_int, "epochs": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}
#: Types of the dataset record inside a config.
DATASET_TYPES = {"name": _is_str, "value_range": lambda v: v is None or _finite_pair(v),
                 "source": _is_str, "shape": lambda v: v is None or _list_of(int)(v)}


def valid_latent_shape(v) -> list[int] | None:
    """``v`` when it is a latent shape (a non-empty list of positive ints), else None."""
    if isinstance(v, tuple):
        v = list(v)
    return v if CONFIG_TYPES["latent_shape"](v) and v is not None else None


def clean_config(config, where: str = "config") -> tuple[dict, list[str]]:
    """(config with every known key of the wrong type removed, one note per removed key).

    Readers can then trust a key's type whenever it is present; unknown keys pass untouched.
    """
    if not isinstance(config, dict):
        return {}, [f"{where} is a {type(config).__name__}, not an object"]
    out, notes = {}, []
    for k, v in config.items():
        check = CONFIG_TYPES.get(k)
        if check is not None and not check(v):
            notes.append(f"{where}: {k} has the wrong type ({type(v).__name__})")
            continue
        out[k] = v
    ds = out.get("dataset")
    if isinstance(ds, dict):
        bad = [k for k, check in DATASET_TYPES.items() if k in ds and not check(ds[k])]
        if bad:
            notes.append(f"{where}: dataset.{', dataset.'.join(bad)} of the wrong type")
            out["dataset"] = {k: v for k, v in ds.items() if k not in bad}
    return out, notes


def clean_verdict(v) -> tuple[dict | None, list[str]]:
    """(verdict usable by every reader, or None when it has no verdict code; notes on what was
    dropped): ``verdict`` a string, ``confidence`` a number, ``flags`` a list of objects each with
    a string ``code``, ``metrics`` an object."""
    if not isinstance(v, dict):
        return None, ["verdict.json is not an object"] if v is not None else []
    if not isinstance(v.get("verdict"), str):
        return None, ["verdict.json has no verdict code"]
    out, notes = dict(v), []
    c = out.get("confidence")
    if "confidence" in out and not (isinstance(c, (int, float)) and not isinstance(c, bool)
                                    and math.isfinite(c)):
        notes.append("verdict.json: confidence is not a number")
        out["confidence"] = None
    flags = out.get("flags", [])
    if not isinstance(flags, list):
        notes.append("verdict.json: flags is not a list")
        flags = []
    good = [f for f in flags if isinstance(f, dict) and isinstance(f.get("code"), str)]
    if len(good) != len(flags):
        notes.append(f"verdict.json: {len(flags) - len(good)} malformed flag(s) dropped")
    for f in good:
        st = f.get("steps")
        if "steps" in f and not (st is None or (_list_of((int, float), 2)(st))):
            f["steps"] = None
        for key in ("evidence", "advice"):
            if key in f and not isinstance(f[key], (dict, list)):
                f[key] = {} if key == "evidence" else []
    out["flags"] = good
    if "metrics" in out and not isinstance(out["metrics"], dict):
        notes.append("verdict.json: metrics is not an object")
        out["metrics"] = {}
    return out, notes


@dataclass
class Run:
    """A run directory read from disk. Every part is optional; unreadable parts read as empty."""

    path: Path
    config: dict = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    verdict: dict | None = None
    samples: list[tuple[int, Path]] = field(default_factory=list)
    checkpoints: list[tuple[int, Path]] = field(default_factory=list)
    skipped_lines: int = 0
    config_ok: bool = True
    #: what was damaged and left out while reading (one short note each)
    problems: list[str] = field(default_factory=list)

    @property
    def experiment(self) -> str:
        return str(self.config.get("experiment") or self.path.parent.name)

    @property
    def variant(self) -> str:
        return str(self.config.get("variant") or self.path.name)

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """Steps and values of one metrics.jsonl field, for rows that have it."""
        xs, ys = [], []
        for r in self.metrics:
            v = r.get(name)
            if isinstance(v, (int, float)) or v is None and name in r:
                xs.append(r.get("step", len(xs)))
                ys.append(float("nan") if v is None else float(v))
        return xs, ys

    def last_checkpoint(self) -> Path | None:
        return self.checkpoints[-1][1] if self.checkpoints else None


def is_run_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` looks like a run directory (has config.json or metrics.jsonl)."""
    p = Path(path)
    return p.is_dir() and ((p / CONFIG).is_file() or (p / METRICS).is_file())


def read_run(path: str | os.PathLike, *, metrics: bool = True) -> Run:
    """Read a run directory; raise UserError if ``path`` is not one.

    metrics=False leaves ``run.metrics`` empty: a reader with its own columnar parser (the
    dashboard, on million-step logs) skips building one dict per logged step.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"no such run directory: {p}")
    if not is_run_dir(p):
        raise UserError(f"{p} is not a run directory (no config.json or metrics.jsonl)")
    run = Run(path=p)
    cfg_path = p / CONFIG
    if cfg_path.exists():
        cfg = read_json_file(cfg_path)
        run.config_ok = cfg is not None
        if cfg is None:
            run.problems.append("config.json is unreadable (corrupt, too deep or not an object)")
        run.config, notes = clean_config(cfg or {}, "config.json")
        run.problems += notes
    run.metrics, s1 = read_jsonl(p / METRICS) if metrics else ([], 0)
    run.evals, s2 = read_jsonl(p / EVALS)
    run.warnings, s3 = read_jsonl(p / WARNINGS)
    run.skipped_lines = s1 + s2 + s3
    if (p / VERDICT).exists():
        raw = read_json_file(p / VERDICT)
        if raw is None:
            run.problems.append("verdict.json is unreadable (corrupt, too deep or not an object)")
        run.verdict, notes = clean_verdict(raw)
        run.problems += notes
    run.samples = step_files(p / SAMPLES, "png")
    run.checkpoints = step_files(p / CHECKPOINTS, "pt")
    return run


def discover_runs(root: str | os.PathLike, max_depth: int = 4) -> list[Path]:
    """Every run directory under ``root`` (``root`` itself included), sorted, without following links."""
    root = Path(root)
    found: list[Path] = []

    def walk(d: Path, depth: int) -> None:
        if is_run_dir(d):
            found.append(d)
            return
        if depth >= max_depth:
            return
        try:
            children = sorted(c for c in d.iterdir() if c.is_dir() and not c.is_symlink())
        except OSError:
            return
        for c in children:
            if c.name.startswith(".") or c.name in (SAMPLES, CHECKPOINTS):
                continue
            walk(c, depth + 1)

    if root.is_dir():
        walk(root, 0)
    return found


def resolve_inside(root: str | os.PathLike, rel: str) -> Path:
    """Resolve a run id (a path relative to ``root``) and refuse anything outside ``root``."""
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise UserError(f"run id {rel!r} is outside the runs root")
    return target
