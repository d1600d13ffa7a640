"""The readable form of a dynamics verdict: verdict first, a sparkline per series, flags, skips.

Sparklines are hand-written (eight unicode block characters, a few lines of code) because no
installed library draws one-line text charts.
"""
from __future__ import annotations

import math

import numpy as np

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values, width: int = 48) -> str:
    """One-line chart of ``values``: binned to ``width`` columns by mean; '×' marks bins holding a
    NaN/inf (callers drop values that are merely missing). A series whose spread is float rounding
    (a constant learning rate read back from float32) is drawn flat, not as noise."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return ""
    bins = np.array_split(v, min(width, v.size))
    means, bad = [], []
    for b in bins:
        fin = b[np.isfinite(b)]
        bad.append(fin.size < b.size)
        means.append(float(fin.mean()) if fin.size else math.nan)
    m = np.asarray(means)
    fin = m[np.isfinite(m)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    span = hi - lo
    if span <= 1e-6 * max(abs(lo), abs(hi)):      # no spread, or rounding-level: a flat series
        span = 1.0
    out = []
    for x, b in zip(m, bad):
        if not math.isfinite(x) or b:
            out.append("×")
        else:
            out.append(BLOCKS[min(7, int((x - lo) / span * 8))])
    return "".join(out)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def render(verdict: dict, table=None, width: int = 48) -> str:
    """The text report of :func:`diagnose.dynamics.analyze`'s verdict (``table`` adds sparklines)."""
    dyn = verdict.get("dynamics", {})
    ing = verdict.get("ingestion", {})
    lines = [f"verdict: {verdict['verdict']}  (confidence {verdict['confidence']:.2f}, "
             f"{dyn.get('points', 0)} points, steps {_steps(dyn.get('steps'))}, "
             f"format {ing.get('format', '?')})",
             f"log: {verdict.get('subject')}"]
    if dyn.get("note"):
        lines.append(f"note: {dyn['note']}")
    conv = dyn.get("conventions", {})
    if conv.get("description") or conv.get("d_fake_inferred_from_g_loss"):
        lines.append("conventions: " + "; ".join(
            ([conv["description"]] if conv.get("description") else [])
            + (["D(G(z)) inferred from the G loss as exp(-G loss)"]
               if conv.get("d_fake_inferred_from_g_loss") else [])))
    lines.append("")
    series = dyn.get("series", {})
    if series:
        name_w = max(len(n) for n in series)
        for name, s in series.items():
            spark = _spark(table, name, width) if table is not None else ""
            nf = f"  non-finite {s['nonfinite']}" if s.get("nonfinite") else ""
            lines.append(f"  {name:<{name_w}} {spark:<{width}}  min {_fmt(s['min'])}  "
                         f"max {_fmt(s['max'])}  last {_fmt(s['last'])}{nf}")
        lines.append("")
    for f in verdict.get("flags", []):
        lines.append(f"[{f['severity']}] {f['code']} (steps {_steps(f.get('steps'))}): {f['summary']}")
        ev = {k: v for k, v in f.get("evidence", {}).items() if v is not None}
        if ev:
            lines.append("    evidence: " + ", ".join(f"{k}={_short(v)}" for k, v in ev.items()))
        for a in f.get("advice", []):
            lines.append(f"    - {a}")
    skipped = ing.get("skipped", {})
    total = ing.get("skipped_total", 0)
    lines.append("")
    lines.append(f"read {ing.get('rows', 0)} rows from {ing.get('lines', '?')} lines/records; "
                 f"skipped {total}" + (f" ({', '.join(f'{k} {v}' for k, v in skipped.items() if v and k != 'blank')})"
                                       if total else ""))
    for ex in ing.get("skipped_examples", [])[:3]:
        lines.append(f"    skipped: {ex}")
    for note in ing.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _spark(table, name: str, width: int) -> str:
    col = table.columns[name]
    keep = np.isfinite(col) | table.nonfinite.get(name, np.zeros(col.size, bool))
    return sparkline(col[keep], width)


def _steps(s) -> str:
    return f"{s[0]}-{s[1]}" if s else "-"


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_short(x)}" for k, x in v.items()) + "}"
    return str(v)
