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
import re
from pathlib import Path

from diagnose.dynamics.ingest_text import _VALUE, _WRAP
from diagnose.dynamics.table import SIGNAL, Table, parse_number, canonical_name
from diagnose.core.errors import UserError


def cell_number(cell) -> float | None:
    """The one number a table cell holds, read the way the text reader reads a value: a plain
    number, a wrapped one (``tensor(10.5, grad_fn=<...>)``, ``np.float32(0.5)``), or one with a
    unit or percent sign after it (``12.5 ms``, ``45%``). None when the cell holds no number,
    several (``3/10``, ``1 2``: not one measurement) or a name before its number (``epoch 2``)."""
    v = parse_number(cell)
    if v is not None or not isinstance(cell, str):
        return v
    s = _WRAP.sub(lambda m: m.group("a") or m.group("b"), cell.strip())
    m = _VALUE.match(s)
    # the number first, then at most a unit: a name before it ("epoch 2") makes a labelled
    # field of a console line, not a table cell
    if m is None or m.group("total") is not None or not _UNIT.fullmatch(s[m.end():]):
        return None
    return parse_number(m.group("num").replace(",", ""))


_UNIT = re.compile(r"\s*(?:%|[A-Za-z\u00b5/]{1,5})?\s*")


def _flatten(obj: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in obj.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict) and "mean" in v and parse_number(v["mean"]) is not None:
            out[key] = v["mean"]          # a statistic ({"num", "mean", "std"}, StyleGAN2-ADA)
        elif isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _signal_rows(rows: list[dict]) -> tuple[list[dict], int]:
    """Keep rows with at least one name that may be a GAN measurement; count the others."""
    from diagnose.dynamics.ingest_text import _MEASURE

    keep, skipped = [], 0
    for r in rows:
        if any(canonical_name(str(k)) in SIGNAL or _MEASURE.search(str(k)) for k in r):
            keep.append(r)
        else:
            skipped += 1
    return keep, skipped


def read_run_table(path: str | Path, mapping: dict | None = None) -> Table:
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
    return Table.from_rows(rows, source=str(path), report=report, mapping=mapping)


def read_jsonl_table(path: str | Path, mapping: dict | None = None) -> Table:
    """A JSONL file of scalar records (one object per line; bad lines skipped and counted)."""
    from diagnose.runs import read_jsonl

    raw, bad = read_jsonl(path)
    rows, no_signal = _signal_rows([_flatten(r) for r in raw])
    report = {"format": "jsonl", "lines": len(raw) + bad,
              "skipped": {"corrupt_lines": bad, "no_series": no_signal},
              "skipped_total": bad + no_signal, "skipped_examples": [], "notes": []}
    return Table.from_rows(rows, source=str(path), report=report, mapping=mapping)


def read_csv_table(path: str | Path, text: str | None = None, mapping: dict | None = None) -> Table:
    """A CSV/TSV file with a header row; the delimiter is sniffed (csv.Sniffer).

    Rows of one step written on separate lines with empty cells (PyTorch Lightning's
    metrics.csv: one row for the ``_step`` values, another for the ``_epoch`` ones and the
    validation) are merged, first value of a name winning."""
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
        # a cell the text reader would read as one number counts as that number
        rows.append({h: (x if (num := cell_number(x)) is None else num)
                     for h, x in zip(header, rec)})
    n_lines = len(rows) + bad
    rows = [{k: v for k, v in r.items() if v is not None and str(v).strip() != ""} for r in rows]
    rows, merged = _merge_steps(rows)
    rows, no_signal = _signal_rows(rows)
    report = {"format": "csv", "lines": n_lines, "header": header,
              "skipped": {"malformed_lines": bad, "no_series": no_signal},
              "skipped_total": bad + no_signal, "skipped_examples": [],
              "notes": [f"{merged} rows of the same step merged"] if merged else []}
    return Table.from_rows(rows, source=str(path), report=report, mapping=mapping)


def _merge_steps(rows: list[dict]) -> tuple[list[dict], int]:
    """Merge consecutive rows of one step (same step column value) whose names do not clash."""
    step_key = next((k for r in rows[:50] for k in r if canonical_name(str(k)) == "step"), None)
    if step_key is None:
        return rows, 0
    out: list[dict] = []
    merged = 0
    for r in rows:
        last = out[-1] if out else None
        if (last is not None and r.get(step_key) is not None
                and parse_number(last.get(step_key)) == parse_number(r.get(step_key))
                and not any(k in last for k in r if k not in (step_key, "epoch"))):
            last.update({k: v for k, v in r.items() if k not in last})
            merged += 1
        else:
            out.append(dict(r))
    return out, merged


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


def looks_like_csv(head: str, named_csv: bool = False) -> bool:
    """A header row of names, then rows of numbers (or empty cells) of the same width.

    Console lines with TABs, "|" or commas between ``name: value`` fields are not a table: their
    cells hold names and numbers together. A file named .csv/.tsv needs only a header of names
    (it may have no data rows, or cells that are not numbers: the CSV reader says so).
    """
    lines = [ln for ln in head.splitlines() if ln.strip()][:12]
    if not lines:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:6]), delimiters=",;\t|")
    except csv.Error:
        if not named_csv:
            return False
        dialect = csv.excel
    recs = list(_safe_rows(csv.reader(io.StringIO("\n".join(lines)), dialect)))
    if not recs or recs[0] is None:
        return False
    header = [h.strip() for h in recs[0]]
    n = len(header)
    if n < 2 or not all(h and parse_number(h) is None and not any(c in h for c in ":=") for h in header):
        return False
    data = [r for r in recs[1:] if r is not None]
    if not data:
        return named_csv
    same = [r for r in data if len(r) == n]
    if len(same) < max(1, 0.6 * len(data)):
        return False
    cells = [c.strip() for r in same for c in r]
    numeric = sum(1 for c in cells if c == "" or cell_number(c) is not None)
    if any(_LABELLED.search(c) for c in cells):
        return False
    return numeric >= 0.5 * len(cells) or named_csv


_LABELLED = re.compile(r"[A-Za-z_)\]]\s*[:=]\s*[-+.\d]")
