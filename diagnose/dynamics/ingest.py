"""One entry point for every log shape: ``ingest(path, format="auto", pattern=None) -> Table``.

Auto-detection, in order: a run directory (config.json / metrics.jsonl) -> a TensorBoard event dir
or file -> by content: JSONL (first line a JSON object), CSV (a header of names then rows of the
same width), else plain text. Every failure a user can fix (missing path, empty or binary file, a
log with no numbers, a TensorBoard dir with no scalars) is a one-line UserError.
"""
from __future__ import annotations

from pathlib import Path

from diagnose.dynamics.table import SIGNAL, Table
from diagnose.core.errors import UserError

FORMATS = ("auto", "run", "tensorboard", "csv", "jsonl", "text")
_HEAD = 65536


def _read_head(path: Path) -> str:
    """The first 64 KiB as text; a UserError when the file is empty, unreadable or binary."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
            more = bool(head.strip()) or bool(f.read(1 << 20).strip())
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    if not more:
        raise UserError(f"{path} is empty")
    # binary: NUL bytes, or mostly undecodable / control bytes
    text_head = head.decode("utf-8", errors="replace")
    bad = text_head.count("\ufffd") + sum(ch < " " and ch not in "\r\n\t\x1b\x08\x0c" for ch in text_head)
    if b"\x00" in head or bad > 0.1 * max(1, len(text_head)):
        raise UserError(f"{path} is a binary file, not a training log")
    return text_head


def _read_text(path: Path) -> str:
    """The whole file as text (after the checks of :func:`_read_head`)."""
    _read_head(path)
    return path.read_bytes().decode("utf-8", errors="replace")


def detect_format(path: Path) -> str:
    """The format ``auto`` resolves to for ``path``."""
    from diagnose.dynamics.ingest_files import looks_like_csv, looks_like_jsonl
    from diagnose.dynamics.ingest_tb import has_event_files
    from diagnose.runs import is_run_dir

    if is_run_dir(path):
        return "run"
    if has_event_files(path):
        return "tensorboard"
    if path.is_dir():
        from diagnose.runs import discover_runs

        runs = discover_runs(path)
        if runs:
            raise UserError(f"{path} holds {len(runs)} run directories; pass one, e.g. {runs[0]}")
        raise UserError(f"{path} is a directory with no run (config.json/metrics.jsonl) "
                        "and no TensorBoard event files")
    head = _read_head(path)
    if looks_like_jsonl(head):
        return "jsonl"
    # a table only when the content is one (a header of names, then rows of numbers of the same
    # width); console output with TABs, "|" or commas between "name: value" fields is text
    if looks_like_csv(head, named_csv=path.suffix.lower() in (".csv", ".tsv")):
        return "csv"
    return "text"


def ingest(path: str | Path, format: str = "auto", pattern: str | None = None,
           mapping: dict | None = None) -> Table:
    """Read a training log of any supported shape into a Table (see module docstring).

    pattern: a regex with named groups (d_loss, g_loss, d_real, d_fake, step, epoch) applied to
    each line instead of the automatic reader; implies ``format="text"`` for files.
    mapping: {role: series name, "family": name} overriding the inferred roles (``--map``).
    """
    import re

    path = Path(path)
    if format not in FORMATS:
        raise UserError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if not path.exists():
        raise UserError(f"no such file or directory: {path}")
    if pattern is not None:
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise UserError(f"--pattern is not a valid regex: {e}") from None
        if not set(rx.groupindex) & {"d_loss", "g_loss", "d_real", "d_fake"}:
            raise UserError("--pattern needs at least one named group among "
                            "d_loss, g_loss, d_real, d_fake")
        if format == "auto":
            format = "text"
    fmt = detect_format(path) if format == "auto" else format
    table = _read(path, fmt, pattern, mapping)
    table.report.setdefault("format", fmt)
    if not any(table.has(s) for s in SIGNAL):
        hint = "" if pattern else " (use --pattern REGEX with named groups d_loss, g_loss, ...)"
        what = "no numbers" if fmt == "text" and not _has_digits(path) else \
            "no recognisable loss or D(x)/D(G(z)) series"
        raise UserError(f"{path}: {fmt} log with {what}{hint}")
    return table


def _has_digits(path: Path) -> bool:
    """Whether the file holds any digit (read in chunks: it may be large)."""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                if any(bytes([d]) in chunk for d in b"0123456789"):
                    return True
    except OSError:
        return False
    return False


def _read(path: Path, fmt: str, pattern: str | None, mapping: dict | None = None) -> Table:
    if fmt == "run":
        from diagnose.dynamics.ingest_files import read_run_table

        return read_run_table(path, mapping=mapping)
    if fmt == "tensorboard":
        from diagnose.dynamics.ingest_tb import has_event_files, read_tensorboard

        if not has_event_files(path):
            raise UserError(f"{path}: no TensorBoard event files")
        return read_tensorboard(path, mapping=mapping)
    if path.is_dir():
        raise UserError(f"{path} is a directory; --format {fmt} needs a file")
    _read_head(path)
    if fmt == "jsonl":
        from diagnose.dynamics.ingest_files import read_jsonl_table

        return read_jsonl_table(path, mapping=mapping)
    if fmt == "csv":
        from diagnose.dynamics.ingest_files import read_csv_table

        return read_csv_table(path, _read_text(path), mapping=mapping)
    from diagnose.dynamics.ingest_text import parse_text

    try:
        # streamed: universal newlines make every "\r" redraw of a progress bar its own line
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_text(f, source=str(path), pattern=pattern, mapping=mapping)
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
