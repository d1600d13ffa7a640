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
    return "-" if not isinstance(x, (int, float)) else f"{x:.4g}"


def render(verdict: dict, table=None, width: int = 48) -> str:
    """The text report of :func:`diagnose.dynamics.analyze`'s verdict (``table`` adds sparklines)."""
    dyn = verdict.get("dynamics", {})
    ing = verdict.get("ingestion", {})
    lines = [f"verdict: {verdict['verdict']}  (confidence {verdict['confidence']:.2f}, "
             f"{dyn.get('points', 0)} points, steps {_steps(dyn.get('steps'))}, "
             f"format {ing.get('format', '?')})",
             f"log: {verdict.get('subject')}"]
    if dyn.get("looked_at"):
        lines.append(f"looked at: {dyn['looked_at']}")
    if dyn.get("note"):
        lines.append(f"note: {dyn['note']}")
    if dyn.get("warmup"):
        lines.append(f"note: {dyn['warmup']}")
    fam = dyn.get("family") or {}
    if fam.get("name"):
        lines.append(f"loss family: {fam['name']} - {fam.get('description', '')} "
                     f"({'; '.join(fam.get('why', []))})")
    for role, c in (dyn.get("roles") or {}).items():
        if role in ("d_loss", "g_loss", "d_real", "d_fake"):
            lines.append(f"  {role:<7} <- {c['series']!r} as {c['as']}: {c['why']}")
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
    stored = verdict.get("stored_verdict")
    if stored:
        lines.append("")
        if stored.get("error"):
            lines.append(f"stored verdict: {stored['error']}")
        else:
            lines.append(f"stored verdict (verdict.json): {stored['verdict']}  (confidence "
                         f"{_fmt(stored.get('confidence'))}; looked at: {stored['looked_at']})")
            for f in stored.get("flags", []):
                lines.append(f"  [{f.get('severity')}] {f.get('code')}: {f.get('summary', '')}")
            if stored["verdict"] != verdict["verdict"]:
                lines.append(f"  the dynamics verdict above ({verdict['verdict']}) looked at the "
                             "losses only; the stored one also measured the samples")
    return "\n".join(lines)


def render_many(verdicts: list[dict]) -> str:
    """One block per run of a folder, after a one-line-per-run summary."""
    lines = [f"{len(verdicts)} runs:"]
    for v in verdicts:
        lines.append(f"  {v.get('verdict') or 'unreadable':<20} {v.get('subject')}"
                     + (f"  ({v['error']})" if v.get("error") else ""))
    for v in verdicts:
        if v.get("error"):
            continue
        lines.append("")
        lines.append("=" * 72)
        lines.append(render(v))
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
