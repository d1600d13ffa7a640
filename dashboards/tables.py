"""Metric tables: generated value beside the real-data reference, coloured by the distance between them.

Every metric entry of a verdict (``{"value", "features", "n", "reference", ...}``) becomes one row
or cell. The colour says how far the generated value is from the same number measured on held-out
real data, on the side that matters for that metric (a precision above the reference is not a
problem; a FID above it is). These are display bands for the eye, not verdict thresholds: the
verdict itself comes from ``diagnose`` and is shown as it was written.

Sorting is done on the server: a header is a button whose click re-renders the table sorted by that
column (again: the other way), so the DOM always matches what Dash knows.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from dash import html

from dashboards.store import number

#: Metrics where lower is better than the reference / higher is better; others: closer is better.
LOWER_BETTER = frozenset({"fid", "kid", "mode_kl", "ndb_k", "duplicate_rate", "copy_share"})
HIGHER_BETTER = frozenset({"precision", "recall", "density", "coverage", "inception_score", "modes",
                           "effective_modes", "support_estimate", "modes_captured", "high_quality"})
#: Metrics that are shares in [0, 1]: compared by difference; everything else by ratio.
SHARES = frozenset({"precision", "recall", "coverage", "duplicate_rate", "copy_share", "ndb_k",
                    "high_quality"})
#: Order on the run page (headline numbers first); unknown metrics follow alphabetically.
ORDER = ("fid", "kid", "precision", "recall", "density", "coverage", "modes", "effective_modes",
         "mode_kl", "ndb_k", "duplicate_rate", "support_estimate", "copy_share",
         "nn_distance_ratio", "inception_score", "latent_spread", "latent_spearman",
         "modes_captured", "high_quality")
#: The few metrics the run browser shows per run.
HEADLINE = ("fid", "precision", "recall", "modes")
TONES = ("good", "fair", "bad")
_SPARK = "▁▂▃▄▅▆▇█"


def _num(v) -> float | None:
    """A finite float from a JSON value, else None (see dashboards.store.number)."""
    return number(v, finite=True)


def fmt(value, digits: int = 4) -> str:
    """A number for a table cell: ``digits`` significant digits, '-' when missing, never raises."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value != value:
            return "NaN"
        if isinstance(value, int) and abs(value) < 10 ** 15:
            return f"{value:,}" if abs(value) >= 10_000 else str(value)
        try:
            return f"{float(value):.{digits}g}"
        except OverflowError:  # a 400-digit integer: say how big, do not print it
            return f"~1e{len(str(abs(value))) - 1}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def tone(name: str, value, reference) -> str:
    """'good' / 'fair' / 'bad' by the distance of ``value`` from ``reference``; '' when unknown."""
    v, r = _num(value), _num(reference)
    if v is None or r is None:
        return ""
    if name in SHARES:
        gap = (r - v) if name in HIGHER_BETTER else (v - r) if name in LOWER_BETTER else abs(v - r)
        return "good" if gap <= 0.1 else "fair" if gap <= 0.3 else "bad"
    if v <= 0 or r <= 0:
        if v == r:
            return "good"
        worse = (v < r) if name in HIGHER_BETTER else (v > r) if name in LOWER_BETTER else True
        return "bad" if worse else "good"
    factor = r / v if name in HIGHER_BETTER else v / r if name in LOWER_BETTER else max(v / r, r / v)
    return "good" if factor <= 1.5 else "fair" if factor <= 3 else "bad"


def metric_items(metrics: Mapping | None) -> list[tuple[str, dict]]:
    """The verdict's metric entries that carry a value, in display order (damaged entries dropped)."""
    if not isinstance(metrics, Mapping):
        return []
    items = [(str(k), m) for k, m in metrics.items() if isinstance(m, Mapping) and "value" in m]
    rank = {k: i for i, k in enumerate(ORDER)}
    return sorted(items, key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0]))


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """A text sparkline of ``values`` (block characters), ``width`` wide; '' when nothing to draw."""
    vals = [float(v) for v in values if _num(v) is not None]
    if not vals:
        return ""
    if len(vals) > width:  # mean per bucket: the sparkline is a trend, not an envelope
        k = len(vals) / width
        vals = [sum(b) / len(b) for b in (vals[int(i * k):max(int((i + 1) * k), int(i * k) + 1)]
                                          for i in range(width))]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    return "".join(_SPARK[0 if span == 0 else min(7, int((v - lo) / span * 8))] for v in vals)


def sort_rows(rows: list[dict], key: str | None, descending: bool) -> list[dict]:
    """Rows sorted by ``row['sort'][key]`` (numbers before text, missing values last)."""
    if not key:
        return rows

    def k(row):
        v = row.get("sort", {}).get(key)
        if v is None:
            return (2, 0, "")
        if isinstance(v, (int, float)):
            return (0, -v if descending else v, "")
        return (1, 0, str(v).lower())

    out = sorted(rows, key=k)
    if descending:  # text sorts descending too; missing stays last
        nums = [r for r in out if k(r)[0] == 0]
        text = [r for r in out if k(r)[0] == 1][::-1]
        rest = [r for r in out if k(r)[0] == 2]
        out = nums + text + rest
    return out


def sortable_table(table_id: str, columns: Sequence[tuple[str, str, str]], rows: list[dict],
                   sort: Mapping | None, class_name: str = "data-table",
                   id_type: str = "sort") -> html.Table:
    """An html table whose header buttons sort it (ids ``{"type": id_type, "table", "col"}``).

    columns: (key, header text, tooltip); rows: {"cells": {key: component}, "tones": {key: tone},
    "sort": {key: sort value}, "title": {key: tooltip}}; sort: {"col": key, "desc": bool}.
    """
    sort = sort if isinstance(sort, Mapping) else {}
    col, desc = sort.get("col"), bool(sort.get("desc"))
    head = []
    for key, text, tip in columns:
        arrow = (" ▼" if desc else " ▲") if key == col else ""
        head.append(html.Th(html.Button(text + arrow, id={"type": id_type, "table": table_id, "col": key},
                                        className="sort-button", title=tip or f"sort by {text}",
                                        n_clicks=0),
                            **({"aria-sort": "descending" if desc else "ascending"}
                               if key == col else {})))
    body = []
    for row in sort_rows(rows, col, desc):
        tds = []
        for key, _, _ in columns:
            t = row.get("tones", {}).get(key, "")
            tds.append(html.Td(row["cells"].get(key, "-"), className=f"tone-{t}" if t else None,
                               title=row.get("title", {}).get(key)))
        body.append(html.Tr(tds, **({"data-run": row["run"]} if row.get("run") else {})))
    return html.Table([html.Thead(html.Tr(head)), html.Tbody(body)], className=class_name,
                      id=table_id)


def next_sort(old: Mapping | None, clicked: str | None) -> dict:
    """Sort state after a click on column ``clicked``: the same column flips direction, a new
    column starts ascending (as in a spreadsheet)."""
    old = old if isinstance(old, Mapping) else {}
    if not clicked:
        return dict(old)
    if old.get("col") == clicked:
        return {"col": clicked, "desc": not old.get("desc")}
    return {"col": clicked, "desc": False}


def metric_cell(m: Mapping) -> tuple[str, str]:
    """(cell text, tooltip) of one metric entry: the value, then 'real' reference and extractor."""
    v, r = m.get("value"), m.get("reference")
    of = _num(m.get("of"))
    text = fmt(v) + (f" / {fmt(int(of))}" if of is not None else "")
    tip = f"real data: {fmt(r)}" if _num(r) is not None else "no real-data reference"
    tip += f" · features: {m.get('features') or '?'} · n = {fmt(m.get('n'))}"
    return text, tip
