"""The Dash app factory: a shell with a URL router and three panels, plus a safe file route."""
from __future__ import annotations

import os
from pathlib import Path

import dash
from dash import Input, Output, dcc, html

from diagnose import runs as R
from diagnose.errors import UserError

from dashboards import figures as F
from dashboards.panels import ComparePage, RunBrowser, RunPage
from dashboards.panels.common import COMPARE_PREFIX, FILE_ROUTE, RUN_PREFIX
from dashboards.store import RunStore

_CSS = {"fontFamily": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
        "maxWidth": "1200px", "margin": "0 auto", "padding": "0 16px 40px"}


def serve_run_file(store: RunStore, rel: str) -> Path:
    """Path of a sample grid named by ``rel`` (relative to the runs root), or UserError.

    Only PNG files directly inside a run's samples/ folder are served, and only inside the root.
    """
    path = R.resolve_inside(store.root, rel)
    if path.suffix != ".png" or path.parent.name != R.SAMPLES or not path.is_file():
        raise UserError(f"not a sample grid: {rel!r}")
    return path


def create_app(runs_root: str | os.PathLike, *, refresh_ms: int = 2000) -> dash.Dash:
    """Build the dashboard for the runs under ``runs_root`` (nothing is read until a page asks).

    refresh_ms: how often open pages poll their runs' file signatures (live runs redraw on change).
    """
    root = Path(runs_root)
    if not root.is_dir():
        raise UserError(f"runs directory not found: {root}")
    store = RunStore(root)
    browser = RunBrowser(store, "browser", refresh_ms)
    run_page = RunPage(store, "run", refresh_ms)
    compare = ComparePage(store, "compare", refresh_ms)

    app = dash.Dash(__name__, title="gan-diagnose", update_title=None,
                    serve_locally=True)
    nav = html.Div([
        dcc.Link("gan-diagnose", href="/", id="nav-home",
                 style={"fontWeight": "bold", "fontSize": "1.2em", "marginRight": "16px"}),
        html.Span(f"runs: {store.root}", style={"color": "#777"}),
    ], style={"padding": "12px 0", "borderBottom": "1px solid #ddd"})
    app.layout = html.Div([dcc.Location(id="url"), nav, html.Div(id="page")], style=_CSS)
    # Every panel's ids, so Dash can validate callbacks whose components are not on screen yet.
    app.validation_layout = html.Div([dcc.Location(id="url"), nav, html.Div(id="page"),
                                      browser.layout(), run_page.layout(), compare.layout()])

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def _route(pathname):
        if pathname and pathname.startswith(RUN_PREFIX):
            return run_page.layout()
        if pathname and pathname.startswith(COMPARE_PREFIX):
            return compare.layout()
        return browser.layout()

    for panel in (browser, run_page, compare):
        panel.set_callbacks(app)

    @app.server.route(FILE_ROUTE + "<path:rel>")
    def _run_file(rel):
        import flask

        try:
            path = serve_run_file(store, rel)
        except UserError:
            flask.abort(404)
        return flask.send_file(path, mimetype="image/png", max_age=3600)

    # Plotly builds its validators lazily (~0.5 s on first use): pay that now, not on the first
    # page a person opens.
    F.dynamics_figure({"d_loss": ([0, 1], [0.0, 1.0]), "d_real": ([0, 1], [0.5, 0.5])},
                      [{"code": "healthy", "severity": "info", "steps": [0, 1]}])
    app.store = store  # for tests and the benchmark
    app.panels = {"browser": browser, "run": run_page, "compare": compare}
    return app
