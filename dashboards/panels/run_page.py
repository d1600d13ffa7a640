"""Run page: verdict card first, the metric table, curves with flags, the film strip, evaluations.

A ``dcc.Interval`` polls the run's file signature (sizes and mtimes); only a change triggers the
callbacks that re-read and redraw, so a live run updates without a reload and an idle one costs
one ``stat`` per file per tick. A long log not parsed yet is drawn first from a labelled preview
of its rows (:meth:`dashboards.store.RunStore.curves`), replaced by the full curves when parsed.
"""
from __future__ import annotations

import re

from dash import ALL, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from diagnose.core.errors import UserError

from dashboards import figures as F
from dashboards.panels import parts as P
from dashboards.panels.common import (Panel, badge, clicked_sort, compare_href, digest, file_href,
                                      fmt, run_href, run_id_from_path, sort_ids, sortable)
from dashboards.store import verdict_step

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


REAL_ROUTE = "/_real-grid/"


def real_href(run_id: str) -> str:
    """URL of the real-data grid beside a run's samples (built in memory by the server)."""
    from urllib.parse import quote

    return REAL_ROUTE + quote(run_id if run_id != "." else "~root", safe="/") + ".png"


def has_real_images(config: dict) -> bool:
    """Whether config.json names an image dataset the server can draw real samples from."""
    ds = config.get("dataset") if isinstance(config, dict) else None
    name = ds.get("name") if isinstance(ds, dict) else ds
    return isinstance(name, str) and (name in ("mnist", "stacked-mnist", "celeba")
                                      or name.startswith("folder:"))


def controls(prefix_id, with_split: bool = True) -> html.Div:
    """The curve controls: EMA smoothing slider, log-y toggle, separate D/G axes."""
    items = [
        html.Div([html.Label("Smoothing", htmlFor=prefix_id("smooth")),
                  dcc.Slider(id=prefix_id("smooth"), min=0, max=0.99, step=0.01, value=0.6,
                             marks={0: "0", 0.6: "0.6", 0.99: "0.99"},
                             tooltip={"placement": "bottom"}, updatemode="mouseup",
                             allow_direct_input=False)],
                 className="control control-smooth",
                 title="TensorBoard's exponential moving average; the raw curve stays faint"),
        dcc.Checklist(id=prefix_id("logy"), options=[{"label": " log y", "value": "log"}],
                      value=[], className="control"),
    ]
    if with_split:
        items.append(html.Div([html.Label("D / G axes"),
                               dcc.RadioItems(id=prefix_id("split"), inline=True, value="auto",
                                              options=[{"label": " auto", "value": "auto"},
                                                       {"label": " shared", "value": "shared"},
                                                       {"label": " separate", "value": "separate"}])],
                              className="control",
                              title="auto: separate axes when the D and G loss scales differ 5x"))
    return html.Div(items, className="controls")


def split_value(v) -> bool | None:
    """The split-axes radio value as dynamics_figure's split_axes argument."""
    return {"shared": False, "separate": True}.get(v)


def smooth_value(v) -> float:
    """A slider value checked and clamped to [0, 0.99] (anything else: no smoothing)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return min(max(f, 0.0), 0.99) if f == f else 0.0


class RunPage(Panel):
    """One run: verdict card, metric table, curves, film strip and samples, evaluations."""

    def __init__(self, store, prefix: str = "run", refresh_ms: int = 2000, jobs=None):
        super().__init__(store, prefix)
        self.refresh_ms = refresh_ms
        self.jobs = jobs

    def layout(self):
        graph = {"displaylogo": False}
        i = self.id
        return html.Div([
            html.Div([html.Div(id=i("nav"), className="run-nav-links"),
                      dcc.Dropdown(id=i("switch"), options=[], value=None, clearable=False,
                                   placeholder="go to run...", className="run-switch")],
                     className="run-nav"),
            html.Div(id=i("header")),
            html.Div([
            html.Div(id=i("verdict")),
            html.Div([
                html.H3("Metrics: generated vs real data"),
                html.Div(id=i("metrics")),
                html.Div([
                    html.Button("Evaluate snapshots", id=i("eval-button"), n_clicks=0,
                                className="button"),
                    html.Progress(id=i("eval-progress"), max=1, value=0, className="progress"),
                    html.Span(id=i("eval-msg"), className="muted"),
                ], id=i("evalbox"), className="evalbox", style={"display": "none"}),
                dcc.Interval(id=i("eval-poll"), interval=1000, disabled=True),
            ], className="card metrics-card"),
            ], className="top-row"),
            html.Div([
                html.H3("Training dynamics"),
                html.Div([controls(i),
                          html.Div([html.Label("Overlay runs"),
                                    dcc.Dropdown(id=i("overlay"), multi=True, options=[], value=[],
                                                 placeholder="add other runs' curves...")],
                                   className="control control-overlay")], className="controls-row"),
                html.Div(id=i("curves-note"), className="muted small curves-note"),
                dcc.Graph(id=i("dynamics"), config=graph, figure=F.empty_figure("loading...")),
                # enabled while the curves are a preview: asks whether the full parse is done
                dcc.Interval(id=i("curves-poll"), interval=400, disabled=True),
            ], className="card"),
            html.Div([
                html.H3("Samples from the fixed latent batch"),
                html.Div(id=i("strip")),
                dcc.Slider(id=i("slider"), min=0, max=0, step=1, value=0, marks=None,
                           updatemode="drag", allow_direct_input=False),
                html.Div([
                    html.Figure([html.Img(id=i("grid"), className="grid-img"),
                                 html.Figcaption(id=i("caption"), className="muted")]),
                    html.Figure([html.Img(id=i("real"), className="grid-img",
                                          alt="real training images"),
                                 html.Figcaption("real training data (random draw)",
                                                 className="muted")], id=i("real-fig")),
                ], className="grids"),
            ], id=i("samples"), className="card"),
            html.Div([
                html.H3("Evaluations over training"),
                dcc.Loading(dcc.Graph(id=i("evals"), config=graph), type="dot"),
                html.Div([
                    dcc.Graph(id=i("hist"), config=graph, className="half"),
                    dcc.Graph(id=i("proj"), config=graph, className="half"),
                ], className="pair"),
            ], id=i("evalcard"), className="card"),
            dcc.Store(id=i("sig")),
            dcc.Store(id=i("sort"), data={}),
            dcc.Interval(id=i("interval"), interval=self.refresh_ms),
        ], className="run-page")

    # ------------------------------------------------------------------ pure-ish renderers
    def nav(self, view, ids: list[str]) -> list:
        """Previous / next run links (the run picker beside them is static): moving between runs
        takes no keyboard."""
        here = ids.index(view.run_id) if view.run_id in ids else -1
        prev_id = ids[here - 1] if here > 0 else None
        next_id = ids[here + 1] if 0 <= here < len(ids) - 1 else None
        return [
            dcc.Link("← all runs", href="/", className="nav-link"),
            dcc.Link("‹ previous", href=run_href(prev_id), id=self.id("prev"), className="nav-link")
            if prev_id else html.Span("‹ previous", className="nav-link disabled"),
            dcc.Link("next ›", href=run_href(next_id), id=self.id("next"), className="nav-link")
            if next_id else html.Span("next ›", className="nav-link disabled"),
            dcc.Link(f"compare {view.run.experiment} variants", href=compare_href(view.run.experiment),
                     className="nav-link"),
        ]

    def header(self, view) -> list:
        """Title, verdict badge, steps and snapshots, the config that matters, skipped lines."""
        run, v = view.run, view.run.verdict or {}
        verdict = v.get("verdict") or ("warnings" if view.flags else "no verdict yet")
        notes = []
        skipped = (view.columns.skipped if view.columns is not None else 0) + run.skipped_lines
        if skipped:
            notes.append(f"{skipped} unreadable JSONL line(s) skipped")
        if view.columns is not None:
            steps = (f"{len(view.columns):,} logged steps, last step "
                     f"{fmt(view.columns.steps[-1] if len(view.columns) else None, 9)}; ")
        else:  # a long log still being parsed for the curves: its last line is enough here
            from dashboards.store import last_row

            steps = f"last step {fmt(last_row(run.path / 'metrics.jsonl').get('step'), 9)}; "
        if not run.config_ok:
            notes.append("config.json is unreadable")
        return [
            html.H2([f"{run.experiment} / {run.variant} ",
                     html.Span(verdict, className="sr-only")]),
            html.Div([steps + f"{len(run.samples)} snapshots · ", _config_line(run.config)],
                     className="muted"),
            html.Div("; ".join(notes), className="warning") if notes else None,
        ]

    def metric_table(self, view, sort_state) -> html.Div:
        """The verdict's metrics (else the last evaluation's) against real data, sortable."""
        from dashboards.store import eval_metrics

        metrics = eval_metrics(view.run)
        if not metrics:
            return html.P("No measured metrics yet: the verdict's sample check or an evaluation "
                          "writes them.", className="muted")
        src = "verdict.json" if (view.run.verdict or {}).get("metrics") else \
            f"evals.jsonl, step {fmt(view.run.evals[-1].get('step'))}"
        feats = {(str(m.get("features")), str(m.get("n"))) for m in metrics.values()}
        columns = list(P.METRIC_COLUMNS)
        where = ""
        if len(feats) == 1:  # one extractor and n for all: said once, not in 17 identical cells
            f, n = next(iter(feats))
            columns = [c for c in columns if c[0] not in ("features", "n")]
            where = f"all measured with {f} features on n = {n} samples; "
        return html.Div([sortable(self.prefix, "metrics", columns, P.metric_rows(metrics),
                                  sort_state),
                         html.Div(f"{where}from {src}. Green: as good as real data, amber: off, "
                                  f"red: far off (display bands; hover a value for details).",
                                  className="muted small")])

    def dynamics(self, view, x_range=None, smoothing=0.0, log_y=False, split=None, overlay=()):
        """The dynamics figure of a view (decimated, flags shaded, optionally smoothed/overlaid).

        A preview (``view.columns.sampled``) is drawn the same way and says so in its title.
        """
        cols = view.columns  # decimated here from the memo: the figure gets ~4k points per field
        if cols.sampled and not len(cols):  # lines longer than the preview's windows
            return F.empty_figure("reading metrics.jsonl...")
        series = {n: cols.decimated(n, x_range=x_range) for n in cols.names}
        smoothed = None
        if 0 < smoothing < 1:
            smoothed = {n: cols.smoothed(n, smoothing, x_range=x_range) for n in cols.names}
        overlays = {}
        for rid in overlay or ():
            try:
                other = self.store.view(rid)
            except UserError:
                continue
            overlays[other.run.variant if other.run.experiment == view.run.experiment else rid] = {
                n: other.columns.decimated(n, x_range=x_range) for n in other.columns.names}
        fig = F.dynamics_figure(series, view.flags, x_range=x_range, smoothing=smoothing,
                                log_y=log_y, split_axes=split, overlays=overlays, smoothed=smoothed)
        if cols.sampled and len(cols):
            fig.layout.title = {"text": f"Preview: {len(cols):,} of about {cols.total_estimate:,} "
                                        f"rows, sampled evenly (full curves loading)",
                                "font": {"size": 13, "color": "#7f8c8d"}, "x": 0.01}
        return fig

    def preview_note(self, view) -> str:
        """The line above a preview of the curves ('' for the full curves)."""
        cols = view.columns
        if cols is None or not cols.sampled:
            return ""
        if not len(cols):
            return ("Reading metrics.jsonl: no complete row in the evenly spaced parts read for a "
                    "preview; the curves appear as soon as the whole log is read.")
        return (f"Preview: {len(cols):,} of about {cols.total_estimate:,} rows, read from "
                f"evenly spaced parts of metrics.jsonl. Spikes and NaN between them are not shown "
                f"yet; the full curves replace this as soon as the whole log is read.")

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

    def sample_marks(self, view) -> list[dict]:
        """Sample flags without a step range, placed at the step their checkpoint was measured."""
        step = verdict_step(view.run)
        return [{"step": step, "code": f.get("code"), "severity": f.get("severity")}
                for f in view.flags if F.flag_steps(f) is None and f.get("code") in P.SAMPLE_FLAGS
                and f.get("code") != "healthy" and step is not None]

    def eval_state(self, view) -> tuple[dict, str, float, bool]:
        """(evalbox style, message, progress 0-1, polling) of the evaluate-on-demand box."""
        job = self.jobs.status(view.run_id) if self.jobs else None
        pending = self.jobs.pending(view.run) if self.jobs else []
        if job and job["state"] == "running":
            return {}, job["message"], job["done"] / max(job["total"], 1), True
        if job and job["state"] == "error":
            return {}, job["message"], 0.0, False
        if job and job["state"] == "done" and not pending:
            return {}, f"{job['message']} in {job.get('seconds', 0):.0f} s", 1.0, False
        if pending and self.jobs:
            n = len(pending)
            have = len(view.run.evals)
            msg = (f"{n} snapshot checkpoint{'s' if n != 1 else ''} not evaluated yet "
                   f"({have} evaluated). Evaluating measures each one against real data "
                   f"(about a minute per snapshot on a CPU) and appends to evals.jsonl.")
            return {}, msg, 0.0, False
        return {"display": "none"}, "", 0.0, False

    # ------------------------------------------------------------------------- callbacks
    def _view(self, pathname, parse: bool = True):
        run_id = run_id_from_path(pathname)
        if run_id is None:
            raise PreventUpdate
        return self.store.view(run_id, parse=parse)

    def set_callbacks(self, app) -> None:
        i = self.id

        @app.callback(Output(i("sig"), "data"),
                      Input("url", "pathname"), Input(i("interval"), "n_intervals"),
                      State(i("sig"), "data"))
        def _poll(pathname, _n, old):
            old = old if isinstance(old, str) else None
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

        @app.callback(Output(i("sort"), "data"), Input(sort_ids(self.prefix), "n_clicks"),
                      State(i("sort"), "data"), prevent_initial_call=True)
        def _sort(_clicks, old):
            return clicked_sort(self.prefix, old)

        @app.callback(Output(i("nav"), "children"), Output(i("header"), "children"),
                      Output(i("verdict"), "children"), Output(i("metrics"), "children"),
                      Output(i("evals"), "figure"), Output(i("slider"), "max"),
                      Output(i("slider"), "value"), Output(i("slider"), "marks"),
                      Output(i("samples"), "style"), Output(i("overlay"), "options"),
                      Output(i("real"), "src"), Output(i("real-fig"), "style"),
                      Output(i("evalcard"), "style"), Output(i("switch"), "options"),
                      Output(i("switch"), "value"),
                      Input(i("sig"), "data"), Input(i("sort"), "data"), State("url", "pathname"),
                      State(i("slider"), "value"), State(i("slider"), "max"))
        def _page(sig, sort_state, pathname, value, old_max):  # noqa: C901 - one page, many parts
            hidden = {"display": "none"}
            value = value if isinstance(value, int) and not isinstance(value, bool) else None
            old_max = old_max if isinstance(old_max, int) and not isinstance(old_max, bool) else None
            sort_state = sort_state if isinstance(sort_state, dict) else {}
            refused = (None, [html.H2("Run not shown")], None, None, F.empty_figure("refused"),
                       0, 0, None, hidden, [], None, hidden, hidden, [], None)
            if _is_error(sig):
                r = list(refused)
                r[1] = [html.H2("Run not shown"), html.Div(sig[6:], className="error")]
                return tuple(r)
            try:
                view = self._view(pathname, parse=False)  # the verdict before a long parse
            except UserError as e:
                r = list(refused)
                r[1] = [html.H2("Run not shown"), html.Div(str(e), className="error")]
                return tuple(r)
            n = len(view.run.samples)
            last = max(n - 1, 0)
            # follow the newest snapshot unless the user moved the slider back
            follow = not isinstance(value, int) or not isinstance(old_max, int) or value >= old_max
            value = last if follow else min(max(value, 0), last)
            marks = {j: f"{s:,}" for j, (s, _) in enumerate(view.run.samples)
                     if n <= 8 or j % max(1, n // 8) == 0 or j == last}
            ids = [s.run_id for s in self.store.summaries()]
            others = [{"label": r, "value": r} for r in ids if r != view.run_id]
            has_evals = bool(view.run.evals)
            pending = bool(self.jobs and self.jobs.pending(view.run))
            is_image = has_real_images(view.run.config)
            return (self.nav(view, ids), self.header(view), P.verdict_card(view, i("badge")),
                    self.metric_table(view, sort_state),
                    F.evals_figure(view.run.evals, self.sample_marks(view)),
                    last, value, marks, {} if n else hidden, others,
                    real_href(view.run_id) if n and is_image else None,
                    {} if n and is_image else hidden,
                    {} if has_evals or not pending else hidden,
                    [{"label": r, "value": r} for r in ids], view.run_id)

        @app.callback(Output("url", "pathname", allow_duplicate=True),
                      Input(i("switch"), "value"), State("url", "pathname"),
                      prevent_initial_call=True)
        def _switch(run_id, pathname):
            if not isinstance(run_id, str) or run_id == run_id_from_path(pathname):
                raise PreventUpdate
            try:
                self.store.resolve(run_id)
            except UserError:
                raise PreventUpdate from None
            return run_href(run_id)

        # Two callbacks write the dynamics figure. With one (sig and relayoutData both Inputs), the
        # graph's first autosize relayout cancels the slow first draw of a huge run in flight and
        # then prevents its own update: the curves never arrive.
        # A long log not parsed yet is drawn first from a preview (a bounded sample of its rows,
        # see RunStore.curves) while it parses in the background; the curves-poll interval runs
        # only while a preview is shown, and swaps in the full figure once the parse is done.
        @app.callback(Output(i("dynamics"), "figure"), Output(i("curves-note"), "children"),
                      Output(i("curves-poll"), "disabled"),
                      Input(i("sig"), "data"), Input(i("smooth"), "value"),
                      Input(i("logy"), "value"), Input(i("split"), "value"),
                      Input(i("overlay"), "value"), Input(i("curves-poll"), "n_intervals"),
                      State(i("dynamics"), "relayoutData"), State("url", "pathname"))
        def _dynamics(sig, smooth, logy, split, overlay, _poll, relayout, pathname):
            if _is_error(sig):
                return F.empty_figure("refused"), "", True
            run_id = run_id_from_path(pathname)
            if run_id is None:
                raise PreventUpdate
            if ctx.triggered_id == i("curves-poll") and self.store.parsing(run_id):
                raise PreventUpdate  # the preview stays until the full parse is done
            try:
                view = self.store.curves(run_id)
            except UserError:
                return F.empty_figure("refused"), "", True
            fig = self.dynamics(view, x_range_from_relayout(relayout) or None,
                                smooth_value(smooth), _is_log(logy), split_value(split),
                                _run_ids(overlay))
            return fig, self.preview_note(view), not view.columns.sampled

        @app.callback(Output(i("dynamics"), "figure", allow_duplicate=True),
                      Input(i("dynamics"), "relayoutData"), State("url", "pathname"),
                      State(i("smooth"), "value"), State(i("logy"), "value"),
                      State(i("split"), "value"), State(i("overlay"), "value"),
                      prevent_initial_call=True)
        def _zoom(relayout, pathname, smooth, logy, split, overlay):
            x_range = x_range_from_relayout(relayout if isinstance(relayout, dict) else None)
            if x_range is False:
                raise PreventUpdate  # hover, autosize, legend clicks: nothing to recompute
            run_id = run_id_from_path(pathname)
            if run_id is None:
                raise PreventUpdate
            try:
                view = self.store.curves(run_id)  # a preview zooms too: never waits for a parse
            except UserError:
                raise PreventUpdate from None
            return self.dynamics(view, x_range, smooth_value(smooth), _is_log(logy),
                                 split_value(split), _run_ids(overlay))

        @app.callback(Output(i("slider"), "value", allow_duplicate=True),
                      Input({"type": f"{self.prefix}-frame", "index": ALL}, "n_clicks"),
                      prevent_initial_call=True)
        def _frame(_clicks):
            trig = ctx.triggered_id
            if not isinstance(trig, dict) or not any(t.get("value") for t in ctx.triggered):
                raise PreventUpdate
            idx = trig.get("index")
            if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
                raise PreventUpdate
            return idx

        @app.callback(Output(i("grid"), "src"), Output(i("caption"), "children"),
                      Output(i("hist"), "figure"), Output(i("proj"), "figure"),
                      Output(i("strip"), "children"),
                      Input(i("slider"), "value"), Input(i("sig"), "data"),
                      State("url", "pathname"))
        def _snapshot(index, sig, pathname):
            if _is_error(sig):
                raise PreventUpdate
            try:
                view = self._view(pathname, parse=False)  # samples and evals: no curves needed
            except UserError:
                raise PreventUpdate from None
            if not isinstance(index, int) or isinstance(index, bool):
                index = 0
            src, caption = self.sample_src(view, index)
            samples = view.run.samples
            k = min(max(index, 0), len(samples) - 1) if samples else 0
            step = samples[k][0] if samples else None
            evals = view.run.evals
            strip = P.film_strip(self.prefix, self.store.root, samples, view.flags,
                                 verdict_step(view.run), k) if samples else None
            return (src, caption, F.mode_histogram_figure(eval_at(evals, "mode_histogram", step)),
                    F.projection_figure(eval_at(evals, "projection", step)), strip)

        @app.callback(Output(i("evalbox"), "style"), Output(i("eval-msg"), "children"),
                      Output(i("eval-progress"), "value"), Output(i("eval-poll"), "disabled"),
                      Output(i("eval-button"), "disabled"),
                      Input(i("sig"), "data"), Input(i("eval-button"), "n_clicks"),
                      Input(i("eval-poll"), "n_intervals"), State("url", "pathname"))
        def _evaluate(sig, clicks, _n, pathname):
            if _is_error(sig):
                return {"display": "none"}, "", 0, True, True
            try:
                view = self._view(pathname, parse=False)  # snapshots only: no curves needed
            except UserError:
                return {"display": "none"}, "", 0, True, True
            if ctx.triggered_id == i("eval-button") and clicks and self.jobs:
                live = any(s.live for s in self.store.summaries() if s.run_id == view.run_id)
                try:
                    self.jobs.start(view.run_id, view.run.path, view.run, live)
                except UserError as e:
                    return {}, str(e), 0, True, False
            style, msg, frac, polling = self.eval_state(view)
            return style, msg, frac, not polling, polling


def _is_error(sig) -> bool:
    """Whether the polled signature says the run was refused (a message follows "error:")."""
    return isinstance(sig, str) and sig.startswith("error:")


def _is_log(v) -> bool:
    return isinstance(v, list) and "log" in v


def _run_ids(v) -> list[str]:
    """Overlay dropdown value checked: a list of at most 8 strings."""
    return [r for r in v if isinstance(r, str)][:8] if isinstance(v, list) else []


__all__ = ["RunPage", "x_range_from_relayout", "flag_list", "eval_at", "real_href"]
