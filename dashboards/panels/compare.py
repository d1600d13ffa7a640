"""Experiment comparison: verdicts and metrics side by side, curves overlaid, grids at one step."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from diagnose.core.errors import UserError

from dashboards import figures as F
from dashboards import tables as T
from dashboards.panels import parts as P
from dashboards.panels.common import (COMPARE_PREFIX, Panel, badge, clicked_sort, digest,
                                      file_href, fmt, id_from_path, run_href, sort_ids, sortable)
from dashboards.panels.run_page import _is_log, controls, has_real_images, real_href, smooth_value
from dashboards.store import eval_metrics

FIELDS = (("d_loss", "D loss"), ("g_loss", "G loss"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"),
          ("grad_norm_d", "|grad D|"), ("grad_norm_g", "|grad G|"))


def verdict_table(views, prefix: str = "compare", sort_state=None, store=None):
    """One row per variant: verdict, confidence, the deciding flag's sentence, sparklines, steps and
    the headline metrics coloured by their distance from real data; sortable."""
    from dashboards.store import sample_rows

    metric_maps = [eval_metrics(v.run) for v in views]
    headline = P.headline_metrics(metric_maps)
    cols = P.run_columns(headline)
    cols.insert(2, ("why", "why", "the deciding flag's summary"))
    rows = []
    for view, metrics in zip(views, metric_maps):
        v = view.run.verdict or {}
        code = v.get("verdict") or ("warnings" if view.flags else "no verdict yet")
        top = next((f for f in view.flags if f.get("code") == code), view.flags[0] if view.flags else {})
        c = view.columns
        spark = {n: list(c.decimated(n, buckets=24)[1]) for n in ("d_loss", "g_loss")}
        last = {n: c.last(n) for n in ("d_real", "d_fake")}
        row = P.run_row(view.run_id, view.run.variant, code, view.severity, v.get("confidence"),
                        c.steps[-1] if len(c) else None, last, spark, metrics, headline)
        row["cells"]["why"] = html.Span(top.get("summary", "-"), className="why")
        row["sort"]["why"] = top.get("summary", "")
        rows.append(row)
    return sortable(prefix, "variants", cols, rows, sort_state, class_name="data-table verdict-table")


def metrics_matrix(views, prefix: str = "compare", sort_state=None):
    """Every metric (rows) of every variant (columns) beside the real-data reference; sortable."""
    maps = {v.run.variant: eval_metrics(v.run) for v in views}
    names = []
    for m in maps.values():
        for k, _ in T.metric_items(m):
            if k not in names:
                names.append(k)
    if not names:
        return html.P("No variant has measured metrics yet (the verdict's sample check or an "
                      "evaluation writes them).", className="muted")
    rank = {k: i for i, k in enumerate(T.ORDER)}
    names.sort(key=lambda k: (rank.get(k, len(T.ORDER)), k))
    cols = [("metric", "metric", ""), ("real", "real data", "same number on held-out real data")]
    cols += [(f"v:{var}", var, f"{var} (generated)") for var in maps]
    cols += [("features", "extractor / n", "feature extractor and samples measured")]
    rows = []
    for name in names:
        entries = {var: m.get(name) for var, m in maps.items()}
        first = next((e for e in entries.values() if isinstance(e, dict)), {})
        feats = sorted({f"{e.get('features') or '?'} / n={fmt(e.get('n'))}" for e in entries.values()
                        if isinstance(e, dict)})
        cells = {"metric": name, "real": fmt(first.get("reference")), "features": "; ".join(feats)}
        tones, titles = {}, {}
        sort = {"metric": name, "real": T._num(first.get("reference"))}
        for var, e in entries.items():
            if isinstance(e, dict):
                text, tip = T.metric_cell(e)
                cells[f"v:{var}"] = text
                titles[f"v:{var}"] = tip
                tones[f"v:{var}"] = T.tone(name, e.get("value"), e.get("reference"))
                sort[f"v:{var}"] = T._num(e.get("value"))
            else:
                cells[f"v:{var}"] = "-"
        rows.append({"cells": cells, "tones": tones, "title": titles, "sort": sort})
    return sortable(prefix, "metrics", cols, rows, sort_state, class_name="data-table matrix")


def common_steps(views) -> list[int]:
    """Snapshot steps of any variant, sorted (the grid slider's positions)."""
    return sorted({s for v in views for s, _ in v.run.samples})


def grid_at(samples, step):
    """(step, path) of the last snapshot at or before ``step`` (else the first one), or None."""
    best = None
    for s, p in samples:
        if s <= step:
            best = (s, p)
    return best or (samples[0] if samples else None)


class ComparePage(Panel):
    """Variants of one experiment side by side; refreshes when any of their files change."""

    def __init__(self, store, prefix: str = "compare", refresh_ms: int = 2000):
        super().__init__(store, prefix)
        self.refresh_ms = refresh_ms

    def layout(self):
        i = self.id
        return html.Div([
            html.Div([dcc.Link("← all runs", href="/", className="nav-link")], className="run-nav"),
            html.H2(id=i("title")),
            html.Div([html.H3("Verdicts"), html.Div(id=i("table"))], className="card"),
            html.Div([html.H3("Metrics: every variant vs real data"), html.Div(id=i("metrics"))],
                     className="card"),
            html.Div([
                html.H3("Samples at the same step"),
                dcc.Slider(id=i("step"), min=0, max=0, step=1, value=0, marks=None,
                           allow_direct_input=False),
                html.Div(id=i("grids"), className="grid-row"),
            ], id=i("samples"), className="card"),
            html.Div([
                html.H3("Curves"),
                html.Div([controls(i, with_split=False),
                          html.Div([html.Label("Runs"),
                                    dcc.Checklist(id=i("runs"), options=[], value=[], inline=True)],
                                   className="control"),
                          html.Div([html.Label("Fields"),
                                    dcc.Checklist(id=i("fields"), inline=True,
                                                  options=[{"label": lbl, "value": k}
                                                           for k, lbl in FIELDS],
                                                  value=[k for k, _ in FIELDS[:4]])],
                                   className="control")], className="controls-row"),
                dcc.Graph(id=i("graph"), config={"displaylogo": False}),
            ], className="card"),
            dcc.Store(id=i("sig")),
            dcc.Store(id=i("sort"), data={}),
            dcc.Interval(id=i("interval"), interval=self.refresh_ms),
        ])

    def views(self, experiment: str) -> list:
        """The run views of every readable variant of ``experiment``."""
        group = self.store.experiments().get(experiment)
        if not group:
            raise UserError(f"no experiment {experiment[:200]!r} under the runs root")
        out = []
        for s in group:
            try:
                out.append(self.store.view(s.run_id))
            except UserError:  # a damaged variant is listed as damaged in the browser, not here
                continue
        if not out:
            raise UserError(f"no readable variant of {experiment[:200]!r}")
        return out

    def figure(self, views, fields, smoothing: float = 0.0, log_y: bool = False, runs=None):
        """Overlaid curves of ``fields`` for ``views`` (only the variants in ``runs`` when given)."""
        chosen = [v for v in views if runs is None or v.run_id in runs]
        data = {}
        for v in chosen:
            c = v.columns
            data[v.run.variant] = {n: (c.smoothed(n, smoothing) if 0 < smoothing < 1
                                       else c.decimated(n)) for n in fields}
        return F.compare_figure(data, names=fields, log_y=log_y)

    def grids(self, views, step) -> list:
        """One sample grid per variant at (or just before) ``step``, then real data."""
        out = []
        for v in views:
            hit = grid_at(v.run.samples, step)
            if hit is None:
                out.append(html.Figure([html.Div("no sample grids", className="muted"),
                                        html.Figcaption(v.run.variant)], className="grid-cell"))
                continue
            s, path = hit
            rel = path.resolve().relative_to(self.store.root).as_posix()
            try:
                version = path.stat().st_mtime_ns
            except OSError:
                version = 0
            out.append(html.Figure([
                dcc.Link(html.Img(src=file_href(rel, version) + "&w=260", className="grid-img",
                                  alt=f"{v.run.variant} step {s}"), href=run_href(v.run_id)),
                html.Figcaption([badge(v.run.variant, v.severity), f" step {s:,}"])],
                className="grid-cell"))
        if views and has_real_images(views[0].run.config):
            out.append(html.Figure([html.Img(src=real_href(views[0].run_id), className="grid-img",
                                             alt="real training images"),
                                    html.Figcaption("real data")], className="grid-cell real"))
        return out

    def set_callbacks(self, app) -> None:
        i = self.id

        @app.callback(Output(i("sort"), "data"), Input(sort_ids(self.prefix), "n_clicks"),
                      State(i("sort"), "data"), prevent_initial_call=True)
        def _sort(_clicks, old):
            return clicked_sort(self.prefix, old)

        @app.callback(Output(i("title"), "children"), Output(i("table"), "children"),
                      Output(i("metrics"), "children"), Output(i("runs"), "options"),
                      Output(i("runs"), "value"), Output(i("step"), "max"),
                      Output(i("step"), "value"), Output(i("step"), "marks"),
                      Output(i("samples"), "style"), Output(i("sig"), "data"),
                      Input("url", "pathname"), Input(i("interval"), "n_intervals"),
                      Input(i("sort"), "data"), State(i("sig"), "data"),
                      State(i("runs"), "value"), State(i("step"), "value"),
                      State(i("step"), "max"))
        def _update(pathname, _n, sort_state, old, chosen, pos, old_max):
            exp = id_from_path(pathname, COMPARE_PREFIX)
            if exp is None:
                raise PreventUpdate
            try:
                views = self.views(exp)
            except UserError as e:
                return (f"Experiment {exp[:200]}", html.Div(str(e), className="error"), None, [],
                        [], 0, 0, None, {"display": "none"}, None)
            sort_state = sort_state if isinstance(sort_state, dict) else {}
            key = digest(([v.sig for v in views], sort_state))
            if key == old:
                raise PreventUpdate
            ids = [v.run_id for v in views]
            chosen = [r for r in chosen if r in ids] if isinstance(chosen, list) and chosen else ids
            steps = common_steps(views)
            last = max(len(steps) - 1, 0)
            follow = not isinstance(pos, int) or not isinstance(old_max, int) or pos >= old_max
            pos = last if follow else min(max(pos, 0), last)
            marks = {j: f"{s:,}" for j, s in enumerate(steps)
                     if len(steps) <= 8 or j % max(1, len(steps) // 8) == 0 or j == last}
            return (f"Experiment {exp}: {len(views)} variants",
                    verdict_table(views, self.prefix, sort_state),
                    metrics_matrix(views, self.prefix, sort_state),
                    [{"label": v.run.variant, "value": v.run_id} for v in views], chosen,
                    last, pos, marks, {} if steps else {"display": "none"}, key)

        @app.callback(Output(i("graph"), "figure"),
                      Input(i("sig"), "data"), Input(i("fields"), "value"),
                      Input(i("smooth"), "value"), Input(i("logy"), "value"),
                      Input(i("runs"), "value"), State("url", "pathname"))
        def _graph(_sig, fields, smooth, logy, runs, pathname):
            exp = id_from_path(pathname, COMPARE_PREFIX)
            if exp is None:
                raise PreventUpdate
            try:
                views = self.views(exp)
            except UserError:
                return F.empty_figure("nothing to compare")
            fields = [f for f in fields if f in dict(FIELDS)] if isinstance(fields, list) else []
            runs = [r for r in runs if isinstance(r, str)] if isinstance(runs, list) else None
            return self.figure(views, fields, smooth_value(smooth), _is_log(logy), runs)

        @app.callback(Output(i("grids"), "children"),
                      Input(i("step"), "value"), Input(i("sig"), "data"), State("url", "pathname"))
        def _grids(pos, _sig, pathname):
            exp = id_from_path(pathname, COMPARE_PREFIX)
            if exp is None:
                raise PreventUpdate
            try:
                views = self.views(exp)
            except UserError:
                raise PreventUpdate from None
            steps = common_steps(views)
            if not steps:
                return []
            pos = pos if isinstance(pos, int) and not isinstance(pos, bool) else len(steps) - 1
            step = steps[min(max(pos, 0), len(steps) - 1)]
            return [html.Div(f"step {step:,}", className="grid-step"), *self.grids(views, step)]
