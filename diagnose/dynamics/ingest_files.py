"""Structured logs: our run directories, CSV (any delimiter, any header spelling) and JSONL.

Each reader returns a :class:`diagnose.dynamics.table.Table`; header spellings are mapped by
:func:`diagnose.dynamics.table.canonical_name`, so ``Loss_D``, ``d_loss`` and ``Discriminator Loss``
all land in ``d_loss``. Nested JSON objects are flattened with "/" (``{"loss": {"D": 1}}`` ->
``loss/D``) the way TensorBoard names tags.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from diagnose.dynamics.table import SIGNAL, Table, _num, canonical_name
from diagnose.errors import UserError


def _flatten(obj: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in obj.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _signal_rows(rows: list[dict]) -> tuple[list[dict], int]:
    """Keep rows with at least one loss/score column; count the others."""
    keep, skipped = [], 0
    for r in rows:
        if any(canonical_name(str(k)) in SIGNAL for k in r):
            keep.append(r)
        else:
            skipped += 1
    return keep, skipped


def read_run_table(path: str | Path) -> Table:
    """metrics.jsonl of a run directory (diagnose.runs.read_run), with the run's own skip count.

    A corrupt config.json is reported but not fatal while metrics are readable; both broken (or
    no metric rows at all) is a UserError.
    """
    from diagnose.runs import read_run

    run = read_run(path)
    rows, no_signal = _signal_rows(run.metrics)
    notes = []
    if not run.config_ok:
        notes.append("config.json is corrupt: read the metrics only")
    if not rows:
        why = "a corrupt config.json and no readable metrics" if not run.config_ok else \
            "no readable loss or D-output rows in metrics.jsonl"
        raise UserError(f"{path}: run directory with {why}")
    report = {"format": "run", "lines": len(run.metrics) + run.skipped_lines,
              "skipped": {"corrupt_lines": run.skipped_lines, "no_series": no_signal},
              "skipped_total": run.skipped_lines + no_signal, "skipped_examples": [],
              "notes": notes, "run": {"experiment": run.experiment, "variant": run.variant}}
    return Table.from_rows(rows, source=str(path), report=report)


def read_jsonl_table(path: str | Path) -> Table:
    """A JSONL file of scalar records (one object per line; bad lines skipped and counted)."""
    from diagnose.runs import read_jsonl

    raw, bad = read_jsonl(path)
    rows, no_signal = _signal_rows([_flatten(r) for r in raw])
    report = {"format": "jsonl", "lines": len(raw) + bad,
              "skipped": {"corrupt_lines": bad, "no_series": no_signal},
              "skipped_total": bad + no_signal, "skipped_examples": [], "notes": []}
    return Table.from_rows(rows, source=str(path), report=report)


def read_csv_table(path: str | Path, text: str | None = None) -> Table:
    """A CSV/TSV file with a header row; the delimiter is sniffed (csv.Sniffer)."""
    if text is None:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    text = text.lstrip("\ufeff")
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t| ")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise UserError(f"{path}: empty CSV file") from None
    rows, bad = [], 0
    for rec in _safe_rows(reader):
        if rec is None or len(rec) != len(header):
            bad += 1
            continue
        rows.append(dict(zip(header, rec)))
    rows, no_signal = _signal_rows(rows)
    report = {"format": "csv", "lines": len(rows) + bad + no_signal, "header": header,
              "skipped": {"malformed_lines": bad, "no_series": no_signal},
              "skipped_total": bad + no_signal, "skipped_examples": [], "notes": []}
    return Table.from_rows(rows, source=str(path), report=report)


def _safe_rows(reader):
    """Iterate a csv reader, turning a csv.Error on one line into a None (counted as malformed)."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None


def looks_like_jsonl(head: str) -> bool:
    """First non-blank line is a JSON object."""
    for line in head.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("{"):
            return False
        try:
            return isinstance(json.loads(line), dict)
        except ValueError:
            return False
    return False


def looks_like_csv(head: str) -> bool:
    """A header row of names (no numbers) followed by rows with the same number of fields."""
    lines = [ln for ln in head.splitlines() if ln.strip()][:6]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    recs = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
    n = len(recs[0])
    if n < 2 or any(len(r) != n for r in recs[1:]):
        return False
    header_ok = all(_num(h) is None for h in recs[0])
    known = sum(canonical_name(h) in SIGNAL for h in recs[0])
    return header_ok and known >= 1
