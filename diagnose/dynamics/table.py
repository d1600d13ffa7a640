"""One table of training scalars, whatever the log it came from.

Every ingester (run directory, TensorBoard, CSV, JSONL, plain text) ends in :func:`Table.from_rows`,
which maps the many spellings people use ("Loss/D", "loss_d", "errD", "Discriminator Loss",
"D(G(z))", ...) to canonical columns:

    step, epoch, d_loss, g_loss, d_real (mean D(x)), d_fake (mean D(G(z))),
    grad_norm_d, grad_norm_g, lr_d, lr_g

Columns are float64 numpy arrays of one length (NaN where a row lacks the value). An explicit
NaN/inf in the log (a diverged run) is kept apart from a missing value in ``nonfinite`` masks, so
the detectors can tell "not logged" from "blew up".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from diagnose.dynamics.names import MEASURE, NOT_SERIES, canonical_name  # noqa: F401 (re-exported)
from diagnose.runs import series as _series

#: The canonical series the detectors read (order = display order): the run directory's table.
SERIES = _series.NAMES
#: Series whose presence makes a row a data row (a line with only "epoch 3" is not one).
SIGNAL = _series.SIGNAL

@dataclass
class Table:
    """Training scalars by row: ``columns[name]`` float arrays of one length; ``steps`` per row.

    source:    where the rows came from (a path)
    report:    the ingestion report: format, rows, skipped counts and examples, name mapping, notes
    nonfinite: per column, True where the log held an explicit NaN/inf (not a missing value)
    """

    columns: dict[str, np.ndarray]
    source: str = ""
    report: dict = field(default_factory=dict)
    nonfinite: dict[str, np.ndarray] = field(default_factory=dict)
    family: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns.get("step", ()))

    @property
    def steps(self) -> np.ndarray:
        return self.columns["step"]

    def has(self, name: str) -> bool:
        """True when the column exists and holds at least one value (finite or explicit NaN/inf)."""
        col = self.columns.get(name)
        if col is None:
            return False
        return bool(np.isfinite(col).any() or self.nonfinite.get(name, np.zeros(0, bool)).any())

    def get(self, name: str) -> np.ndarray | None:
        """The column, or None when absent."""
        return self.columns.get(name) if self.has(name) else None

    def present(self) -> list[str]:
        """Canonical series present, in display order, then any extra columns."""
        extra = sorted(k for k in self.columns if k not in SERIES and k not in NOT_SERIES
                       and MEASURE.search(k) and self.has(k))[:12]
        return [s for s in SERIES if self.has(s)] + extra

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], source: str = "", report: dict | None = None,
                  step_key: str | None = "step", mapping: dict | None = None) -> "Table":
        """Build a table from dict rows with any spelling of the keys.

        Keys are kept under their own (raw) names, then :func:`diagnose.dynamics.roles.assign`
        decides which series plays which role (D loss, G loss, D(x), D(G(z))) from the names, the
        value ranges and the other series present; ``mapping`` ({role: raw name}) overrides it.
        ``step`` is taken from the row, else the row index. Values that are None/NaN/inf count as
        explicit non-finite values; values that are not numbers are ignored.
        """
        store = ColumnStore()
        for row in rows:
            store.add(row)
        return store.table(source=source, report=report, mapping=mapping)

    @classmethod
    def from_store(cls, store: "ColumnStore", source: str = "", report: dict | None = None,
                   mapping: dict | None = None) -> "Table":
        """Table of a filled :class:`ColumnStore` (see :meth:`from_rows`)."""
        return store.table(source=source, report=report, mapping=mapping)


class ColumnStore:
    """Rows appended one at a time into per-name float columns, in bounded memory.

    Each column is an ``array('d')`` (8 bytes a value; a name first seen at row i is padded with i
    NaNs once, so n rows cost O(n), never O(n^2)). When the store holds more than ``max_cells``
    values it keeps every second row and from then on accepts every ``stride``-th row: a
    3,000,000-line log is judged on an evenly thinned copy, and a NaN/inf in a dropped row is
    carried into the next kept one so a blow-up is never thinned away.
    """

    def __init__(self, max_cells: int = 1 << 22, max_columns: int = 256):
        from array import array

        self._array = array
        self.cols: dict[str, "array"] = {}
        self.bad: dict[str, bytearray] = {}
        self.n = 0                     # rows kept
        self.seen = 0                  # rows offered
        self.stride = 1
        self.max_cells = max_cells
        self.max_columns = max_columns
        self.dropped_columns = 0
        self._carry: dict[str, float] = {}   # non-finite values of thinned-away rows
        self._fast_keys: tuple | None = None   # names of the last row, when all were appended
        self._fast_cols: list = []

    def add(self, row: dict[str, Any]) -> None:
        """Append one row ({name: value}); values that are not numbers are ignored."""
        i = self.seen
        self.seen += 1
        if i % self.stride:
            for k, v in row.items():        # keep the news that a value blew up
                val = parse_number(v)
                if val is not None and not math.isfinite(val):
                    self._carry[str(k)] = val
            return
        if self._carry:
            row = {**row, **self._carry}    # the blow-up wins over the kept row's own value
            self._carry = {}
        n = self.n
        keys = tuple(row)
        if keys == self._fast_keys:
            # the same names as the previous row (most lines of a log): every column of theirs is
            # exactly n long, so the values append straight on, with no per-name look-ups
            vals = [v if type(v) is float else parse_number(v) for v in row.values()]
            if None not in vals:
                for (col, bad), val in zip(self._fast_cols, vals):
                    col.append(val)
                    bad.append(0 if val == val and val not in _INF else 1)
                self.n = n + 1
                if self.n * len(self.cols) > self.max_cells:
                    self._thin()
                return
        self._fast_keys = None
        cols = self.cols
        for k, v in row.items():
            val = v if type(v) is float else parse_number(v)
            if val is None:
                continue
            col = cols.get(k)
            if col is None:
                if type(k) is not str:
                    k = str(k)
                    col = cols.get(k)
            if col is None:
                if len(cols) >= self.max_columns:
                    self.dropped_columns += 1
                    continue
                col = cols[k] = self._array("d", [math.nan]) * n
                self.bad[k] = bytearray(n)
            ln = len(col)
            if ln > n:
                continue                    # first spelling of a name in a row wins
            if ln < n:
                self._pad(k, n)
            col.append(val)
            self.bad[k].append(0 if val == val and val not in _INF else 1)
        self.n = n + 1
        if all(type(k) is str and len(cols.get(k, ())) == n + 1 for k in keys):
            self._fast_keys = keys
            self._fast_cols = [(cols[k], self.bad[k]) for k in keys]
        if self.n * max(1, len(cols)) > self.max_cells:
            self._thin()

    def _thin(self) -> None:
        """Keep every second row (a NaN/inf of a dropped row replaces its kept neighbour's value,
        so a blow-up survives the thinning) and double the stride."""
        n = self.n
        self._fast_keys = None               # the columns are replaced
        for k in list(self.cols):
            self._pad(k, n)
            c = np.array(self.cols[k][:n], dtype=float)
            bb = np.frombuffer(bytes(self.bad[k][:n]), dtype=np.uint8)
            kept, kb = c[0::2].copy(), bb[0::2].copy()
            odd = bb[1::2].astype(bool)
            m = len(odd)
            sel = odd & (kb[:m] == 0)
            kept[:m][sel] = c[1::2][sel]
            kb[:m][sel] = 1
            col = self._array("d")
            col.frombytes(kept.tobytes())
            self.cols[k] = col
            self.bad[k] = bytearray(kb.tobytes())
        self.n = (n + 1) // 2
        self.stride *= 2

    def _pad(self, k: str, n: int | None = None) -> None:
        n = self.n if n is None else n
        col, b = self.cols[k], self.bad[k]
        if len(col) < n:
            col.extend(self._array("d", [math.nan]) * (n - len(col)))
        if len(b) < n:
            b.extend(bytes(n - len(b)))

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(columns, non-finite masks) as numpy arrays of length ``n``."""
        cols, bad = {}, {}
        for k in list(self.cols):
            self._pad(k)
            cols[k] = np.frombuffer(self.cols[k], dtype=float)[: self.n].copy()
            m = np.frombuffer(bytes(self.bad[k][: self.n]), dtype=np.uint8).astype(bool)
            if m.any():
                bad[k] = m
        return cols, bad

    def table(self, source: str = "", report: dict | None = None,
              mapping: dict | None = None) -> Table:
        """The Table: raw columns, then the roles assigned (see Table.from_rows)."""
        from diagnose.dynamics.roles import assign

        raw, bad = self.arrays()
        report = dict(report or {})
        notes = report.setdefault("notes", [])
        if self.stride > 1:
            notes.append(f"long log: judged on every {self.stride}th of {self.seen} rows "
                         "(NaN/inf in skipped rows kept)")
        if self.dropped_columns:
            notes.append(f"more than {self.max_columns} distinct names: later ones ignored")
        n = self.n
        step_key = "step" if "step" in raw else next(
            (k for k in raw if canonical_name(k) == "step"), None)
        step = raw.get(step_key) if step_key else None
        if "epoch" not in raw:
            ek = next((k for k in raw if canonical_name(k) == "epoch"), None)
            if ek is not None:
                raw["epoch"] = raw.pop(ek)
        if step is None or not np.isfinite(step).any():
            steps = np.arange(n, dtype=float) * self.stride
            notes.append("no step numbers: steps are row indices")
        else:
            idx = np.arange(n)
            ok = np.isfinite(step)
            steps = np.where(ok, step, np.interp(idx, idx[ok], step[ok]))
        roles = assign(raw, bad, overrides=mapping)
        columns: dict[str, np.ndarray] = {"step": steps}
        nonfinite: dict[str, np.ndarray] = {}
        for name, v in raw.items():
            if name in ("step", step_key):
                continue
            # a raw series spelled like a role it was not given (a "d_real" that holds D's loss
            # term) stays visible under another name, never as that role
            key = name if name not in SERIES or roles.chosen.get(name, {}).get("series") == name \
                else f"raw:{name}"
            columns[key] = v
            if name in bad:
                nonfinite[key] = bad[name]
        for role, (values, mask) in roles.columns.items():
            columns[role] = values
            if mask is not None and mask.any():
                nonfinite[role] = mask
        report["mapping"] = {**{k: v for k, v in report.get("mapping", {}).items()},
                             **roles.mapping}
        report["roles"] = roles.describe()
        report["rows"] = n
        return Table(columns=columns, source=source, report=report, nonfinite=nonfinite,
                     family=roles.family)



_INF = (math.inf, -math.inf)


def parse_number(v: Any) -> float | None:
    """A float from a JSON/CSV/text value; None when it is not a number. None/'nan' -> NaN."""
    if v is None:
        return math.nan
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return float(s)
        except ValueError:
            return None
    return None
