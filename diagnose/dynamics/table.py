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
_D_WORDS = {"d", "dis", "disc", "discriminator", "critic", "netd"}
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
    "dgz1": "d_fake", "dgz2": "d_fake",
    "gradnormd": "grad_norm_d", "dgradnorm": "grad_norm_d", "gradd": "grad_norm_d",
    "gradnormg": "grad_norm_g", "ggradnorm": "grad_norm_g", "gradg": "grad_norm_g",
    "lrd": "lr_d", "dlr": "lr_d", "lrg": "lr_g", "glr": "lr_g",
}


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
                       and self.has(k))
        return [s for s in SERIES if self.has(s)] + extra

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], source: str = "", report: dict | None = None,
                  step_key: str | None = "step") -> "Table":
        """Build a table from dict rows with any spelling of the keys.

        Keys are mapped with :func:`canonical_name`; unknown numeric keys are kept under their own
        name. ``step`` is taken from the row, else the row index. Values that are None/NaN/inf count
        as explicit non-finite values; values that are not numbers are ignored.
        """
        rows = list(rows)
        report = dict(report or {})
        mapping: dict[str, str] = dict(report.get("mapping", {}))
        cols: dict[str, list] = {}
        bad: dict[str, list] = {}
        n = len(rows)
        for i, row in enumerate(rows):
            seen: set[str] = set()
            for k, v in row.items():
                name = mapping.get(k)
                if name is None:
                    name = canonical_name(str(k)) or str(k)
                    mapping[k] = name
                if name in seen:
                    continue                          # first spelling wins (e.g. D(G(z)) before/after)
                val = _num(v)
                if val is None:
                    continue
                seen.add(name)
                col = cols.setdefault(name, [math.nan] * n)
                col[i] = val
                if not math.isfinite(val):
                    bad.setdefault(name, [False] * n)[i] = True
        columns = {k: np.asarray(v, dtype=float) for k, v in cols.items()}
        nonfinite = {k: np.asarray(v, dtype=bool) for k, v in bad.items()}
        step = columns.get("step")
        if step is None or not np.isfinite(step).any():
            columns["step"] = np.arange(n, dtype=float)
            report.setdefault("notes", []).append("no step numbers: steps are row indices")
        else:
            # fill gaps by the row index offset from the last known step
            idx = np.arange(n)
            ok = np.isfinite(step)
            columns["step"] = np.where(ok, step, np.interp(idx, idx[ok], step[ok]))
        report["mapping"] = {k: v for k, v in mapping.items() if v in SERIES or v in ("step", "epoch")}
        report["rows"] = n
        return cls(columns=columns, source=source, report=report, nonfinite=nonfinite)


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
