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

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

#: The canonical series the detectors read (order = display order).
SERIES = ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "lr_d", "lr_g")
#: Series whose presence makes a row a data row (a line with only "epoch 3" is not one).
SIGNAL = ("d_loss", "g_loss", "d_real", "d_fake")

# Columns that index rows rather than measure training (not shown as series).
_NOT_SERIES = {"step", "epoch", "batch", "time", "wall_time", "timestamp", "iteration"}
# Words that name a player; matched as whole tokens after splitting a key.
_D_WORDS = {"d", "dis", "disc", "discrim", "discr", "discriminator", "critic", "netd"}
_G_WORDS = {"g", "gen", "generator", "netg"}
_STEP_WORDS = {"step", "steps", "global_step", "globalstep", "iteration", "iterations", "iter",
               "iters", "it", "itr", "batch", "batches", "batch_idx", "i", "n_iter", "niter"}
_EPOCH_WORDS = {"epoch", "epochs", "ep", "epoch_idx"}
# Compact spellings that a token split cannot separate.
_COMPACT = {
    "lossd": "d_loss", "dloss": "d_loss", "errd": "d_loss", "lossdis": "d_loss", "disloss": "d_loss",
    "discloss": "d_loss", "lossdisc": "d_loss", "criticloss": "d_loss", "losscritic": "d_loss",
    "lossg": "g_loss", "gloss": "g_loss", "errg": "g_loss", "lossgen": "g_loss", "genloss": "g_loss",
    "dx": "d_real", "dreal": "d_real", "realscore": "d_real", "scorereal": "d_real",
    "dgz": "d_fake", "dfake": "d_fake", "fakescore": "d_fake", "scorefake": "d_fake",
    "dgz1": "d_fake", "dgz2": "d_fake", "dr": "d_real", "df": "d_fake",
    "gradnormd": "grad_norm_d", "dgradnorm": "grad_norm_d", "gradd": "grad_norm_d",
    "gradnormg": "grad_norm_g", "ggradnorm": "grad_norm_g", "gradg": "grad_norm_g",
    "lrd": "lr_d", "dlr": "lr_d", "lrg": "lr_g", "glr": "lr_g",
}


# extra (unmapped) series worth showing: they look like training measurements
_MEASURE = re.compile(r"loss|err|score|acc|grad|norm|lr|fid|kid|penalty|gp|wasserstein|real|fake"
                      r"|gan|adv|^[dg]_|^[dg]$|^l_", re.IGNORECASE)
_FAKE = re.compile(r"d\(g\(z\d?\)\)|d\(fake\)|d\(g\(x\)\)")
_REAL = re.compile(r"(^|[^a-z])d\((x|real)\)")


def _tokens(key: str) -> list[str]:
    # "Loss/D", "train.loss_D", "DiscriminatorLoss" -> ["loss", "d"] / ["discriminator", "loss"]
    key = re.sub(r"([a-z])([A-Z])", r"\1 \2", key)
    return [t for t in re.split(r"[^a-z0-9]+", key.lower()) if t]


@functools.lru_cache(maxsize=4096)
def canonical_name(key: str) -> str | None:
    """Map a logged name to a canonical column, or None when it is not one we know.

    D(x)/D(G(z)) are matched before tokenising, because their parentheses carry the meaning.
    """
    raw = key.strip().lower().replace(" ", "")
    if _FAKE.search(raw):
        return "d_fake"
    if _REAL.search(raw):
        return "d_real"
    toks = _tokens(key)
    if not toks:
        return None
    compact = "".join(toks)
    if compact in _COMPACT:
        return _COMPACT[compact]
    s = set(toks)
    if len(toks) == 1 and toks[0] in _EPOCH_WORDS:
        return "epoch"
    if len(toks) == 1 and toks[0] in _D_WORDS | _G_WORDS:
        # a scalar named only after a player ("D: 0.6 G: 1.1", tqdm's "d=..., g=...") is its loss
        return "d_loss" if toks[0] in _D_WORDS else "g_loss"
    if len(toks) <= 2 and s & _STEP_WORDS and not s & (_D_WORDS | _G_WORDS | {"loss"}):
        return "step"
    player = "d" if s & _D_WORDS else "g" if s & _G_WORDS else None
    if player == "d" and s & _G_WORDS:
        return None                                   # "d_g_ratio" and the like: ambiguous
    if player is None:
        return None
    if s & {"real", "fake"} and s & {"loss", "err", "error"}:
        return None                                   # one BCE term (kept as an extra column)
    if s & {"loss", "err", "error", "cost"}:
        return f"{player}_loss"
    if s & {"grad", "gradnorm", "grads", "gradient", "norm"}:
        return f"grad_norm_{player}"
    if s & {"lr", "learning", "learningrate"}:
        return f"lr_{player}"
    if player == "d" and s & {"real", "x"}:
        return "d_real"
    if player == "d" and s & {"fake", "gz"}:
        return "d_fake"
    return None


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
        extra = sorted(k for k in self.columns if k not in SERIES and k not in _NOT_SERIES
                       and _MEASURE.search(k) and self.has(k))[:12]
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
                val = _num(v)
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
            vals = [v if type(v) is float else _num(v) for v in row.values()]
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
            val = v if type(v) is float else _num(v)
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


def _num(v: Any) -> float | None:
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
