"""Run page: dynamics with flags, evals, the fixed-latent sample grid by snapshot, modes, projection.

A ``dcc.Interval`` polls the run's file signature (sizes and mtimes); only a change triggers the
callbacks that re-read and redraw, so a live run updates without a reload and an idle one costs
one ``stat`` per file per tick.
"""
from __future__ import annotations

import re

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from diagnose.errors import UserError

from dashboards import figures as F
from dashboards.panels.common import (Panel, badge, compare_href, digest, file_href, fmt,
                                      metric_text, run_id_from_path)

_XRANGE = re.compile(r"^xaxis\d*\.range\[([01])\]$")
_CONFIG_KEYS = ("experiment", "variant", "dataset", "seed", "device", "started_at")


def x_range_from_relayout(relayout: dict | None) -> tuple[float, float] | None | bool:
    """Zoom window from a graph's relayoutData: (lo, hi), None for autorange, False if no change."""
    if not relayout:
        return False
    got: dict[int, float] = {}
    for k, v in relayout.items():
        m = _XRANGE.match(k)
        if m:
            got[int(m.group(1))] = float(v)
        elif re.match(r"^xaxis\d*\.range$", k) and isinstance(v, list) and len(v) == 2:
            got = {0: float(v[0]), 1: float(v[1])}
        elif re.match(r"^xaxis\d*\.autorange$", k):
            return None
    return (got[0], got[1]) if len(got) == 2 else False


def _config_line(cfg: dict) -> str:
    parts = []
    for k in _CONFIG_KEYS:
        v = cfg.get(k)
        if isinstance(v, dict):  # dataset: {"name", "size", "source", ...}
            v = ", ".join(f"{a}={b}" for a, b in v.items() if isinstance(b, (str, int, float)))
        if v not in (None, ""):
            parts.append(f"{k}: {v}")
    return " | ".join(parts)


def flag_list(flags: list[dict]) -> html.Ul | html.P:
    """The flags as a list: badge, code, steps, summary, and advice as sub-items."""
    if not flags:
        return html.P("No flags.", className="muted")
    items = []
    for f in flags:
        steps = f.get("steps")
        ok = isinstance(steps, list) and len(steps) == 2 and all(isinstance(v, (int, float)) for v in steps)
        where = f" (steps {steps[0]}-{steps[1]})" if ok else ""
        advice = [html.Li(a) for a in f.get("advice") or []]
        items.append(html.Li([badge(f.get("code", "?"), f.get("severity", "warn")),
                              html.Span(f"{where} {f.get('summary', '')}"),
                              html.Span(" [live warning]" if f.get("source") == "live" else "",
                                        className="muted"),
                              html.Ul(advice) if advice else None], className="flag"))
    return html.Ul(items, className="flags")


def eval_at(evals: list[dict], key: str, step: float | None) -> dict | None:
    """The ``key`` entry (mode_histogram / projection) of the last eval row at or before ``step``."""
    best = None
    for row in evals:
        if isinstance(row.get(key), dict) and (step is None or row.get("step", 0) <= step):
            best = row[key]
    if best is None:  # nothing before this snapshot: show the first one there is
        best = next((r[key] for r in evals if isinstance(r.get(key), dict)), None)
    return best


class RunPage(Panel):
    """One run: header and verdict, flags, dynamics, evals, sample grid slider, modes, projection."""

    def __init__(self, store, prefix: str = "run", refresh_ms: int = 2000):
        super().__init__(store, prefix)
        self.refresh_ms = refresh_ms

    def layout(self):
        graph = {"displaylogo": False}
        return html.Div([
            html.Div(id=self.id("header")),
            html.H3("Flags"), html.Div(id=self.id("flags")),
            html.H3("Training dynamics"),
            dcc.Graph(id=self.id("dynamics"), config=graph, figure=F.empty_figure("loading...")),
            html.H3("Samples from the fixed latent batch"),
            html.Div([
                dcc.Slider(id=self.id("slider"), min=0, max=0, step=1, value=0, marks=None,
                           updatemode="drag", allow_direct_input=False),
                html.Div(id=self.id("caption"), className="muted"),
                html.Img(id=self.id("grid"), style={"width": "min(100%, 420px)", "imageRendering": "pixelated",
                                                   "border": "1px solid #ddd"}),
            ], id=self.id("samples")),
            html.Div([
                dcc.Graph(id=self.id("hist"), config=graph, style={"flex": 1}),
                dcc.Graph(id=self.id("proj"), config=graph, style={"flex": 1}),
            ], style={"display": "flex", "gap": "10px"}),
            html.H3("Evaluations"),
            dcc.Graph(id=self.id("evals"), config=graph),
            dcc.Store(id=self.id("sig")),
            dcc.Interval(id=self.id("interval"), interval=self.refresh_ms),
        ])

    # ------------------------------------------------------------------ pure-ish renderers
    def header(self, view) -> list:
        """Title, verdict badge, config line, key metrics and a link to the comparison."""
        run, v = view.run, view.run.verdict or {}
        verdict = v.get("verdict") or ("warnings" if view.flags else "no verdict yet")
        metrics = [html.Li(metric_text(k, m)) for k, m in
                   ((v.get("metrics") or {}).items()) if isinstance(m, dict)]
        notes = []
        if view.columns.skipped or run.skipped_lines:
            notes.append(f"{view.columns.skipped + run.skipped_lines} unreadable JSONL line(s) skipped")
        if not run.config_ok:
            notes.append("config.json is unreadable")
        return [
            html.H2([f"{run.experiment} / {run.variant} ", badge(verdict, view.severity, id=self.id("badge"))]),
            html.Div([f"{len(view.columns):,} logged steps, last step "
                      f"{fmt(view.columns.steps[-1] if len(view.columns) else None, 9)}; "
                      f"{len(run.samples)} snapshots; confidence {fmt(v.get('confidence'), 2)} | ",
                      dcc.Link("compare variants", href=compare_href(run.experiment))]),
            html.Div(_config_line(run.config), className="muted"),
            html.Ul(metrics) if metrics else None,
            html.Div("; ".join(notes), className="warning") if notes else None,
        ]

    def dynamics(self, view, x_range=None):
        """The dynamics figure of a view (decimated, flags shaded)."""
        cols = view.columns  # decimated here from the memo: the figure gets ~4k points per field
        series = {n: cols.decimated(n, x_range=x_range) for n in cols.names}
        return F.dynamics_figure(series, view.flags, x_range=x_range)

    def sample_src(self, view, index: int) -> tuple[str | None, str]:
        """(img src, caption) of snapshot number ``index``."""
        if not view.run.samples:
            return None, "No sample grids yet."
        index = min(max(int(index or 0), 0), len(view.run.samples) - 1)
        step, path = view.run.samples[index]
        rel = path.resolve().relative_to(self.store.root).as_posix()
        try:
            version = path.stat().st_mtime_ns
        except OSError:
            version = 0
        return file_href(rel, version), f"step {step:,} ({index + 1} of {len(view.run.samples)})"

    # ------------------------------------------------------------------------- callbacks
    def _view(self, pathname):
        run_id = run_id_from_path(pathname)
        if run_id is None:
            raise PreventUpdate
        return self.store.view(run_id)

    def set_callbacks(self, app) -> None:
        @app.callback(Output(self.id("sig"), "data"),
                      Input("url", "pathname"), Input(self.id("interval"), "n_intervals"),
                      State(self.id("sig"), "data"))
        def _poll(pathname, _n, old):
            run_id = run_id_from_path(pathname)
            if run_id is None:
                raise PreventUpdate
            try:
                key = digest((run_id, self.store.signature(run_id)))
            except UserError as e:
                key = "error:" + str(e)
            if key == old:
                raise PreventUpdate
            return key

        @app.callback(Output(self.id("header"), "children"), Output(self.id("flags"), "children"),
                      Output(self.id("evals"), "figure"), Output(self.id("slider"), "max"),
                      Output(self.id("slider"), "value"), Output(self.id("slider"), "marks"),
                      Output(self.id("samples"), "style"),
                      Input(self.id("sig"), "data"), State("url", "pathname"),
                      State(self.id("slider"), "value"), State(self.id("slider"), "max"))
        def _page(sig, pathname, value, old_max):
            if sig and sig.startswith("error:"):
                msg = html.Div(sig[6:], className="error", style={"color": "#d62728"})
                return ([html.H2("Run not shown"), msg], None, F.empty_figure("refused"), 0, 0,
                        None, {"display": "none"})
            try:
                view = self._view(pathname)
            except UserError as e:
                return ([html.H2("Run not shown"), html.Div(str(e))], None,
                        F.empty_figure("refused"), 0, 0, None, {"display": "none"})
            n = len(view.run.samples)
            last = max(n - 1, 0)
            # follow the newest snapshot unless the user moved the slider back
            follow = value is None or old_max is None or value >= (old_max or 0)
            value = last if follow else min(value, last)
            marks = {i: f"{s:,}" for i, (s, _) in enumerate(view.run.samples)
                     if n <= 8 or i % max(1, n // 8) == 0 or i == last}
            return (self.header(view), flag_list(view.flags), F.evals_figure(view.run.evals),
                    last, value, marks, {} if n else {"display": "none"})

        # Two callbacks write the dynamics figure. With one (sig and relayoutData both Inputs), the
        # graph's first autosize relayout cancels the slow first draw of a huge run in flight and
        # then prevents its own update: the curves never arrive.
        @app.callback(Output(self.id("dynamics"), "figure"),
                      Input(self.id("sig"), "data"), State(self.id("dynamics"), "relayoutData"),
                      State("url", "pathname"))
        def _dynamics(sig, relayout, pathname):
            if sig and sig.startswith("error:"):
                return F.empty_figure("refused")
            try:
                view = self._view(pathname)
            except UserError:
                return F.empty_figure("refused")
            return self.dynamics(view, x_range_from_relayout(relayout) or None)

        @app.callback(Output(self.id("dynamics"), "figure", allow_duplicate=True),
                      Input(self.id("dynamics"), "relayoutData"), State("url", "pathname"),
                      prevent_initial_call=True)
        def _zoom(relayout, pathname):
            x_range = x_range_from_relayout(relayout)
            if x_range is False:
                raise PreventUpdate  # hover, autosize, legend clicks: nothing to recompute
            try:
                view = self._view(pathname)
            except UserError:
                raise PreventUpdate from None
            return self.dynamics(view, x_range)

        @app.callback(Output(self.id("grid"), "src"), Output(self.id("caption"), "children"),
                      Output(self.id("hist"), "figure"), Output(self.id("proj"), "figure"),
                      Input(self.id("slider"), "value"), Input(self.id("sig"), "data"),
                      State("url", "pathname"))
        def _snapshot(index, sig, pathname):
            if sig and sig.startswith("error:"):
                raise PreventUpdate
            try:
                view = self._view(pathname)
            except UserError:
                raise PreventUpdate from None
            src, caption = self.sample_src(view, index)
            step = view.run.samples[min(int(index or 0), len(view.run.samples) - 1)][0] \
                if view.run.samples else None
            evals = view.run.evals
            return (src, caption, F.mode_histogram_figure(eval_at(evals, "mode_histogram", step)),
                    F.projection_figure(eval_at(evals, "projection", step)))


__all__ = ["RunPage", "x_range_from_relayout", "flag_list", "eval_at"]
