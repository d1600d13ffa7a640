"""Figures as pure functions: plain data in (arrays, dicts read from a run), a plotly figure out.

Nothing here reads files or knows about Dash, so every function is unit-tested without a browser.
Long series are decimated here (min/max per bucket, see :mod:`dashboards.decimate`).
"""
from __future__ import annotations

import functools
import json
import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from diagnose.runs.series import LABELS, NOT_PLOTTED  # noqa: F401  (display names, curves left out)

from dashboards.decimate import DEFAULT_BUCKETS, ema, minmax_decimate  # noqa: F401  (ema: API)

Series = tuple[Sequence[float], Sequence[float]]  # (steps, values)

SEVERITY_COLORS = {"fail": "#c0392b", "warn": "#d35400", "info": "#2874a6", "ok": "#1e8449",
                   "pending": "#7f8c8d", "damaged": "#6c3483"}
LN2 = math.log(2)
#: Rows of the dynamics figure: title, fields, reference lines (value, label).
DYNAMICS_ROWS = (
    ("Losses", ("d_loss", "g_loss"), ((LN2, "ln 2"), (2 * LN2, "2 ln 2"))),
    ("D(x) and D(G(z))", ("d_real", "d_fake"), ((0.5, "0.5 (chance)"),)),
    ("Gradient norms", ("grad_norm_d", "grad_norm_g"), ()),
)
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def severity_color(severity: str) -> str:
    """Hex colour of a severity (fail/warn/info/ok/pending)."""
    return SEVERITY_COLORS.get(severity, SEVERITY_COLORS["pending"])


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#666"})
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, height=220,
                      margin={"l": 20, "r": 20, "t": 20, "b": 20}, template="plotly_white")
    return fig


def _finite_range(ys: list[np.ndarray]) -> tuple[float, float] | None:
    vals = [y[np.isfinite(y)] for y in ys if len(y)]
    vals = [v for v in vals if len(v)]
    if not vals:
        return None
    lo, hi = float(min(v.min() for v in vals)), float(max(v.max() for v in vals))
    pad = (hi - lo) * 0.05 or max(abs(hi), 1.0) * 0.05
    return lo - pad, hi + pad


def flag_shape_xy(steps: Sequence[int], y_lo: float, y_hi: float, min_width: float) -> tuple[list, list]:
    """Closed polygon (x, y) of a flag's step range; a single step is widened to ``min_width``."""
    a, b = float(min(steps)), float(max(steps))
    if b - a < min_width:
        mid = (a + b) / 2
        a, b = mid - min_width / 2, mid + min_width / 2
    return [a, b, b, a, a], [y_lo, y_lo, y_hi, y_hi, y_lo]


def _axis(kind: str, row: int) -> str:
    """Axis reference of subplot ``row`` in a one-column make_subplots grid: x, x2, ... / y, y2."""
    return kind if row == 1 else f"{kind}{row}"


def reference_lines(refs: Sequence[tuple[float, str]], row: int,
                    yref: str | None = None) -> tuple[list[dict], list[dict]]:
    """Dotted horizontal lines with labels for subplot ``row`` as layout shapes and annotations.

    Written as plain dicts instead of ``fig.add_hline``, which re-walks every subplot per call and
    was a third of the figure's build time.
    """
    shapes, notes = [], []
    yref = yref or _axis("y", row)
    for j, (value, label) in enumerate(refs):
        side = j % 2  # alternate left/right so two close lines' labels do not overlap
        shapes.append({"type": "line", "xref": f"{_axis('x', row)} domain", "x0": 0, "x1": 1,
                       "yref": yref, "y0": value, "y1": value,
                       "line": {"dash": "dot", "color": "#555", "width": 1}})
        notes.append({"text": label, "xref": f"{_axis('x', row)} domain", "x": side,
                      "xanchor": ("left", "right")[side],
                      "yref": yref, "y": value, "yanchor": "bottom", "showarrow": False,
                      "font": {"size": 10, "color": "#555"}})
    return shapes, notes


def flag_steps(flag: Mapping) -> tuple[float, float] | None:
    """A flag's (first, last) step when it has a usable step range, else None."""
    steps = flag.get("steps") if isinstance(flag, Mapping) else None
    if not isinstance(steps, (list, tuple)) or len(steps) != 2:
        return None
    try:
        a, b = float(steps[0]), float(steps[1])
    except (TypeError, ValueError, OverflowError):
        return None
    return (a, b) if math.isfinite(a) and math.isfinite(b) else None


def _flag_traces(flags: Sequence[Mapping], y_range: tuple[float, float], span: float,
                 legend: bool, xref: str, yref: str) -> list[dict]:
    """Each flag with a step range as a filled polygon on one subplot (plain trace dicts).

    A filled scatter polygon, not a layout shape: shapes cannot carry hover text.
    """
    out = []
    for f in flags:
        steps = flag_steps(f)
        if steps is None:
            continue
        color = severity_color(str(f.get("severity", "warn")))
        xs, ys = flag_shape_xy(steps, *y_range, min_width=max(span * 0.004, 1.0))
        text = f"<b>{f.get('code')}</b> ({f.get('severity', 'warn')}, steps {steps[0]:g}-{steps[1]:g})" \
               f"<br>{f.get('summary', '')}"
        out.append({"type": "scatter", "x": xs, "y": ys, "fill": "toself",
                    "fillcolor": _rgba(color, 0.18), "line": {"width": 0}, "mode": "lines",
                    "hoveron": "fills", "hoverinfo": "text", "text": text,
                    "name": f"flag: {f.get('code')}", "legendgroup": f"flag-{f.get('code')}",
                    "showlegend": legend, "xaxis": xref, "yaxis": yref})
    return out


def _positive_range(ys: list[np.ndarray]) -> tuple[float, float] | None:
    vals = [y[np.isfinite(y) & (y > 0)] for y in ys if len(y)]
    vals = [v for v in vals if len(v)]
    if not vals:
        return None
    return float(min(v.min() for v in vals)) / 1.3, float(max(v.max() for v in vals)) * 1.3


def scales_differ(a, b, factor: float = 5.0) -> bool:
    """True when two series' typical magnitudes (median |value|) differ by more than ``factor``."""
    ma = [float(np.nanmedian(np.abs(np.asarray(v, float)))) for v in (a, b) if len(v)]
    ma = [m for m in ma if np.isfinite(m)]
    if len(ma) < 2 or min(ma) <= 0:
        return len(ma) == 2 and max(ma) > 0
    return max(ma) / min(ma) > factor


@functools.lru_cache(maxsize=64)
def _grid(titles: tuple[str, ...], rows: int, cols: int = 1, *, vertical_spacing: float,
          horizontal_spacing: float | None = None, shared_x: bool = True,
          secondary_row: int | None = None) -> tuple[str, tuple[tuple[str, str, str | None], ...]]:
    """The layout of a subplot grid (plotly_white) as JSON, and each cell's (x axis, y axis,
    secondary y axis) references ("x2", "y3", ...), cells in row-major order.

    Built once per shape with make_subplots, then reused: make_subplots and plotly's validation
    of every property were most of each figure's build time (hundreds of ms per callback).
    secondary_row: the row (one-column grids) whose right-hand axis is a second y axis.
    """
    specs = [[{"secondary_y": r == secondary_row} for _ in range(cols)] for r in range(1, rows + 1)]
    kw = {"horizontal_spacing": horizontal_spacing} if horizontal_spacing is not None else {}
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=shared_x, vertical_spacing=vertical_spacing,
                        subplot_titles=list(titles), specs=specs, **kw)
    fig.update_layout(template="plotly_white")
    refs = []
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            sub = fig.get_subplot(r, c)
            sec = fig.get_subplot(r, c, secondary_y=True).yaxis.plotly_name \
                if r == secondary_row else None
            refs.append((sub.xaxis.plotly_name.replace("axis", ""),
                         sub.yaxis.plotly_name.replace("axis", ""),
                         sec.replace("axis", "") if sec else None))
    return json.dumps(fig.layout.to_plotly_json()), tuple(refs)


def _axis_key(ref: str) -> str:
    """Layout key of an axis reference: "y3" -> "yaxis3", "x" -> "xaxis"."""
    return ref[0] + "axis" + ref[1:]


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A go.Figure from plain trace and layout dicts, without plotly's per-property validation.

    Every dict here is built by this module with valid plotly keys (the unit tests draw them in a
    browser and read them back), so the validation that costs tens of milliseconds per trace
    buys nothing. The result is an ordinary go.Figure (``fig.data[0].name`` etc. work).
    """
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def dynamics_figure(series: Mapping[str, Series], flags: Sequence[Mapping] = (), *,
                    x_range: tuple[float, float] | None = None,
                    buckets: int = DEFAULT_BUCKETS, smoothing: float = 0.0, log_y: bool = False,
                    split_axes: bool | None = None,
                    overlays: Mapping[str, Mapping[str, Series]] | None = None,
                    smoothed: Mapping[str, Series] | None = None) -> go.Figure:
    """Losses, D(x)/D(G(z)) and gradient norms over steps, with reference lines and flag ranges.

    series: field name -> (steps, values), as in metrics.jsonl; missing fields drop their row;
    fields outside the known rows (user scalars) get an extra "Other scalars" row.
    flags:  verdict/warning flag dicts; those with ``steps`` are shaded with their summary on hover.
    x_range: zoom window; each series is decimated inside it (extremes kept).
    smoothing: TensorBoard EMA weight (0 = raw); the raw curve stays behind, faint.
    log_y:  logarithmic y axes (non-positive values are not drawn there).
    split_axes: G loss on its own right-hand axis; None = when D and G loss scales differ 5x.
    overlays: other runs' series (label -> field -> series), drawn dashed in the same panels.
    smoothed: the EMA of each field already computed and decimated (the dashboard memoizes it
    per run); otherwise it is computed here, on ``series``, which must then be full resolution.
    """
    rows = [(t, [n for n in names if len(series.get(n, ((), ()))[0])], refs)
            for t, names, refs in DYNAMICS_ROWS]
    known = {n for _, names, _ in DYNAMICS_ROWS for n in names}
    other = [n for n in series if n not in known and n not in NOT_PLOTTED and len(series[n][0])]
    rows.append(("Other scalars", other, ()))
    rows = [r for r in rows if r[1]]
    if not rows:
        return empty_figure("no training metrics logged yet")
    loss_row = next((i for i, r in enumerate(rows, 1) if r[0] == "Losses"), None)
    if split_axes is None and loss_row and {"d_loss", "g_loss"} <= set(rows[loss_row - 1][1]):
        split_axes = scales_differ(series["d_loss"][1], series["g_loss"][1])
    split = bool(split_axes and loss_row and "g_loss" in rows[loss_row - 1][1]
                 and len(rows[loss_row - 1][1]) > 1)
    titles = tuple(r[0] for r in rows)
    skeleton, refs_of = _grid(titles, len(titles), vertical_spacing=0.06,
                              secondary_row=loss_row if split else None)
    layout = json.loads(skeleton)  # a fresh copy of the cached grid
    all_x = [np.asarray(series[n][0], float) for _, names, _ in rows for n in names]
    span = max((float(x[-1] - x[0]) for x in all_x if len(x)), default=1.0) or 1.0
    smoothing = float(smoothing or 0.0)
    color_i = 0
    traces, flag_traces, shapes = [], [], []
    notes = layout.get("annotations", [])
    for i, (_, names, refs) in enumerate(rows, start=1):
        xref, yref, y2ref = refs_of[i - 1]
        ys = []
        for n in names:
            secondary = split and i == loss_row and n == "g_loss"
            label = LABELS.get(n, n) + (" (right axis)" if secondary else "")
            axes = {"xaxis": xref, "yaxis": y2ref if secondary else yref}
            color = _PALETTE[color_i % 10]
            color_i += 1
            x_full, y_full = (np.asarray(v, float) for v in series[n])
            curves = [(y_full, 1.0, label, True)]
            if 0 < smoothing < 1:
                pre = (smoothed or {}).get(n)
                curves = [(y_full, 0.25, label + " (raw)", False),
                          (pre if pre is not None else ema(y_full, smoothing), 1.0, label, True)]
            for y_src, opacity, name, main in curves:
                if isinstance(y_src, tuple):  # precomputed (steps, values), already decimated
                    x, y = (np.asarray(v, float) for v in y_src)
                else:  # the faint raw curve behind a smoothed one: half the points suffice
                    b = buckets if main else max(1, buckets // 2)
                    x, y = minmax_decimate(x_full, y_src, buckets=b, x_range=x_range)
                if main:
                    ys.append(y)
                traces.append({
                    "type": "scatter", "x": x, "y": y, "mode": "lines", "name": name,
                    "opacity": opacity, "legendgroup": n, "showlegend": main,
                    "line": {"width": 1.4 if main else 1.0, "color": color},
                    "hovertemplate": "step %{x}<br>%{y:.4g}<extra>" + name + "</extra>", **axes})
        for label, other_series in (overlays or {}).items():
            for n in names:
                if not len(other_series.get(n, ((), ()))[0]):
                    continue
                xo, yo = (np.asarray(v, float) for v in other_series[n])
                if 0 < smoothing < 1:
                    yo = ema(yo, smoothing)
                x, y = minmax_decimate(xo, yo, buckets=buckets, x_range=x_range)
                secondary = split and i == loss_row and n == "g_loss"
                name = f"{label}: {LABELS.get(n, n)}"
                traces.append({
                    "type": "scatter", "x": x, "y": y, "mode": "lines", "name": name,
                    "legendgroup": f"overlay-{label}",
                    "line": {"width": 1.1, "dash": "dot", "color": _PALETTE[(color_i + 3) % 10]},
                    "hovertemplate": "step %{x}<br>%{y:.4g}<extra>" + name + "</extra>",
                    "xaxis": xref, "yaxis": y2ref if secondary else yref})
                color_i += 1
        s_, n_ = reference_lines(refs, i, yref=yref)
        shapes += s_
        notes += n_
        ref_vals = np.array([v for v, _ in refs])
        y_range = _positive_range(ys + [ref_vals]) if log_y else _finite_range(ys + [ref_vals])
        if y_range and flags:  # below the curves: drawn first
            flag_traces += _flag_traces(flags, y_range, span, legend=(i == 1), xref=xref, yref=yref)
    layout.update(shapes=shapes, annotations=notes, height=230 * len(rows) + 60,
                  hovermode="closest", margin={"l": 55, "r": 55 if split else 20, "t": 40, "b": 40},
                  uirevision="dynamics", legend={"orientation": "h", "y": -0.08})
    if log_y:
        for k in layout:
            if k.startswith("yaxis"):
                layout[k]["type"] = "log"
    if split:
        _, yref, y2ref = refs_of[loss_row - 1]
        layout[_axis_key(yref)]["title"] = {"text": "D loss"}
        layout[_axis_key(y2ref)].update(title={"text": "G loss"}, showgrid=False)
    layout[_axis_key(refs_of[-1][0])]["title"] = {"text": "step"}
    return _figure(flag_traces + traces, layout)


def eval_series(evals: Sequence[Mapping]) -> dict[tuple[str, str], tuple[list, list, list]]:
    """(metric, extractor) -> (steps, values, n) from evals.jsonl rows; non-metric keys ignored."""
    out: dict[tuple[str, str], tuple[list, list, list]] = {}
    for row in evals:
        step = row.get("step")
        for k, m in row.items():
            # a metric is {"value": number or null, ...}; histograms and projections are not
            if not isinstance(m, Mapping) or "value" not in m:
                continue
            if isinstance(m["value"], bool) or not isinstance(m["value"], (int, float, type(None))):
                continue
            key = (k, str(m.get("features") or "?"))
            xs, ys, ns = out.setdefault(key, ([], [], []))
            xs.append(step)
            ys.append(float("nan") if m["value"] is None else float(m["value"]))
            ns.append(m.get("n"))
    return out


def _eval_refs(evals: Sequence[Mapping]) -> dict[tuple[str, str], float]:
    """(metric, extractor) -> the latest real-data reference value recorded with it."""
    out = {}
    for row in evals:
        for k, m in row.items():
            if isinstance(m, Mapping) and "value" in m:
                r = m.get("reference")
                if isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r):
                    out[(k, str(m.get("features") or "?"))] = float(r)
    return out


def evals_figure(evals: Sequence[Mapping], marks: Sequence[Mapping] = ()) -> go.Figure:
    """One small panel per metric over snapshot steps, the real-data reference dotted.

    The extractor name is in each title and legend entry. marks: sample flags without a step
    range, each ``{"step", "code", "severity"}``, drawn as a vertical line where they were measured.
    """
    from dashboards.tables import ORDER

    data = eval_series(evals)
    if not data:
        return empty_figure("no evaluations in evals.jsonl yet")
    refs = _eval_refs(evals)
    rank = {k: i for i, k in enumerate(ORDER)}
    metrics = sorted({k for k, _ in data}, key=lambda m: (rank.get(m, len(ORDER)), m))
    cols = min(3, len(metrics))
    nrows = -(-len(metrics) // cols)
    titles = [f"{m} [{', '.join(sorted(f for k, f in data if k == m))}]" for m in metrics]
    skeleton, cells = _grid(tuple(titles), nrows, cols,
                            vertical_spacing=min(0.12, 0.35 / max(1, nrows)),
                            horizontal_spacing=0.07, shared_x=False)
    layout = json.loads(skeleton)
    shapes, traces = [], []
    for i, m in enumerate(metrics):
        xref, yref, _ = cells[i]
        for j, ((name, feat), (xs, ys, ns)) in enumerate(sorted((k_, v) for k_, v in data.items()
                                                                if k_[0] == m)):
            color = _PALETTE[j % 10]
            traces.append({
                "type": "scatter", "x": xs, "y": ys, "mode": "lines+markers",
                "name": f"{name} [{feat}]", "showlegend": False, "customdata": [[n] for n in ns],
                "line": {"color": color}, "marker": {"size": 6},
                "hovertemplate": "step %{x}<br>%{y:.4g}<br>n=%{customdata[0]}<extra>" +
                f"{name} [{feat}]</extra>", "xaxis": xref, "yaxis": yref})
            ref = refs.get((name, feat))
            if ref is not None:
                shapes.append({"type": "line", "xref": f"{xref} domain", "x0": 0, "x1": 1,
                               "yref": yref, "y0": ref, "y1": ref,
                               "line": {"dash": "dot", "color": "#1e8449", "width": 1.2}})
        for mk in marks:
            step = mk.get("step")
            if isinstance(step, (int, float)):
                shapes.append({"type": "line", "xref": xref, "x0": step, "x1": step,
                               "yref": f"{yref} domain", "y0": 0, "y1": 1,
                               "line": {"color": severity_color(mk.get("severity", "warn")),
                                        "width": 2, "dash": "dash"}})
    notes = layout.get("annotations", [])
    if marks:  # one legend-like note: what the dashed lines are
        codes = ", ".join(sorted({str(mk.get("code")) for mk in marks}))
        notes.append({"font": {"color": "#555", "size": 11}, "showarrow": False,
                      "text": f"dashed: verdict's sample check ({codes}); dotted green: real data",
                      "x": 0, "xanchor": "left", "xref": "paper", "y": 1.0, "yref": "paper",
                      "yshift": 34 if nrows > 1 else 30})
    for note in notes:
        note.setdefault("font", {})["size"] = 11
    layout.update(annotations=notes, shapes=shapes, height=max(260, 190 * nrows + 70),
                  margin={"l": 50, "r": 20, "t": 60, "b": 30}, uirevision="evals")
    return _figure(traces, layout)


def mode_histogram_figure(hist: Mapping | None) -> go.Figure:
    """Share of samples per mode, generated against reference; missing modes are visible as gaps."""
    if not hist or not hist.get("generated"):
        return empty_figure("no mode histogram in evals.jsonl")
    gen = np.asarray(hist["generated"], float)
    ref = np.asarray(hist.get("reference") or np.zeros_like(gen), float)
    modes = np.arange(len(gen))
    gen_p = gen / gen.sum() if gen.sum() else gen
    fig = go.Figure()
    if ref.sum():
        fig.add_trace(go.Bar(x=modes, y=ref / ref.sum(), name="reference", marker_color="#aaa",
                             opacity=0.6))
    fig.add_trace(go.Bar(x=modes, y=gen_p, name="generated", marker_color="#1f77b4", opacity=0.8))
    hit = int((gen > 0).sum())
    fig.update_layout(
        title=f"Modes hit: {hit} of {len(gen)} [{hist.get('features', '?')}]", barmode="overlay",
        xaxis_title="mode", yaxis_title="share of samples", template="plotly_white", height=320,
        margin={"l": 60, "r": 20, "t": 50, "b": 40}, bargap=0.05)
    return fig


def projection_figure(proj: Mapping | None) -> go.Figure:
    """2D projection (e.g. PCA) of real vs generated features: uncovered regions show collapse."""
    if not proj or not (proj.get("real") or proj.get("generated")):
        return empty_figure("no feature projection in evals.jsonl")
    fig = go.Figure()
    for key, color, size in (("real", "#999", 4), ("generated", "#d62728", 5)):
        pts = np.asarray(proj.get(key) or np.zeros((0, 2)), float).reshape(-1, 2)
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=key,
                                 marker={"size": size, "color": color, "opacity": 0.6}))
    fig.update_layout(
        title=f"{str(proj.get('method', 'projection')).upper()} of {proj.get('features', '?')} features",
        template="plotly_white", height=360, margin={"l": 50, "r": 20, "t": 50, "b": 40},
        xaxis_title="component 1", yaxis_title="component 2")
    return fig


def compare_figure(runs: Mapping[str, Mapping[str, Series]],
                   names: Sequence[str] = ("d_loss", "g_loss", "d_real", "d_fake"), *,
                   buckets: int = DEFAULT_BUCKETS, log_y: bool = False) -> go.Figure:
    """The same fields of several runs overlaid, one panel per field, one colour per run.

    Each field has its own panel and y axis, so D and G losses of different scales never share one.
    """
    names = [n for n in names if any(len(s.get(n, ((), ()))[0]) for s in runs.values())]
    if not names:
        return empty_figure("no metrics to compare")
    skeleton, cells = _grid(tuple(LABELS.get(n, n) for n in names), len(names),
                            vertical_spacing=0.05)
    layout = json.loads(skeleton)
    traces, shapes, notes = [], [], layout.get("annotations", [])
    for j, (label, series) in enumerate(runs.items()):
        color = _PALETTE[j % 10]
        # the legend entry goes on the first panel where this run has data
        first = next((k for k, m in enumerate(names, 1) if len(series.get(m, ((), ()))[0])), 0)
        for i, n in enumerate(names, start=1):
            if not len(series.get(n, ((), ()))[0]):
                continue
            x, y = minmax_decimate(*series[n], buckets=buckets)
            xref, yref, _ = cells[i - 1]
            traces.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "name": label,
                           "legendgroup": label, "showlegend": i == first,
                           "line": {"color": color, "width": 1.2},
                           "hovertemplate": "step %{x}<br>%{y:.4g}<extra>" + label + "</extra>",
                           "xaxis": xref, "yaxis": yref})
    for i, n in enumerate(names, start=1):
        refs = next((r for _, fields, r in DYNAMICS_ROWS if n in fields), ())
        s_, n_ = reference_lines(refs, i, yref=cells[i - 1][1])
        shapes += s_
        notes += n_
    layout.update(shapes=shapes, annotations=notes, height=200 * len(names) + 80,
                  margin={"l": 50, "r": 20, "t": 40, "b": 40}, uirevision="compare",
                  legend={"orientation": "h", "y": -0.06, "yanchor": "top", "x": 0})
    if log_y:
        for k in layout:
            if k.startswith("yaxis"):
                layout[k]["type"] = "log"
    layout[_axis_key(cells[-1][0])]["title"] = {"text": "step"}
    return _figure(traces, layout)
