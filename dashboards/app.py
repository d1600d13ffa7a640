"""The Dash app factory: a shell with a URL router and three panels, plus two safe file routes."""
from __future__ import annotations

import os
from pathlib import Path

import dash
from dash import Input, Output, dcc, html

from diagnose import runs as R
from diagnose.core.errors import UserError

from dashboards import figures as F
from dashboards.evaluate import EvalJobs
from dashboards.panels import ComparePage, RunBrowser, RunPage
from dashboards.panels.common import COMPARE_PREFIX, FILE_ROUTE, RUN_PREFIX, run_id_from_path
from dashboards.panels.run_page import REAL_ROUTE
from dashboards.store import RunStore

#: Widths the file route scales sample grids to (film strip thumbnails); anything else: original.
THUMB_WIDTHS = (96, 140, 200, 260)


def serve_run_file(store: RunStore, rel: str) -> Path:
    """Path of a sample grid named by ``rel`` (relative to the runs root), or UserError.

    Only PNG files directly inside a run's samples/ folder are served, and only inside the root.
    A NUL byte, a symlink loop or an over-long name is refused the same way.
    """
    if not isinstance(rel, str) or "\x00" in rel or len(rel) > 4096:
        raise UserError("not a sample grid")
    try:
        path = R.resolve_inside(store.root, rel)
        ok = path.suffix == ".png" and path.parent.name == R.SAMPLES and path.is_file()
    except UserError:
        raise
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop (Python < 3.13)
        raise UserError(f"not a sample grid: {rel[:200]!r}") from None
    if not ok:
        raise UserError(f"not a sample grid: {rel[:200]!r}")
    return path


def create_app(runs_root: str | os.PathLike, *, refresh_ms: int = 2000,
               evaluate: bool = True) -> dash.Dash:
    """Build the dashboard for the runs under ``runs_root`` (nothing is read until a page asks).

    refresh_ms: how often open pages poll their runs' file signatures (live runs redraw on change).
    evaluate:   offer the run page's "Evaluate snapshots" button (measures checkpoints on demand
                and appends to the run's evals.jsonl).
    """
    root = Path(runs_root)
    if not root.is_dir():
        raise UserError(f"runs directory not found: {root}")
    store = RunStore(root)
    jobs = EvalJobs() if evaluate else None
    browser = RunBrowser(store, "browser", refresh_ms)
    run_page = RunPage(store, "run", refresh_ms, jobs=jobs)
    compare = ComparePage(store, "compare", refresh_ms)

    app = dash.Dash(__name__, title="gan-diagnose", update_title=None, serve_locally=True,
                    assets_folder=str(Path(__file__).parent / "assets"))
    nav = html.Header([
        dcc.Link("gan-diagnose", href="/", id="nav-home", className="brand"),
        dcc.Link("runs", href="/", className="nav-link"),
        html.Span(str(store.root), className="root-path", title="the runs root"),
    ], className="topbar")
    shell = [dcc.Location(id="url"), nav, html.Main(id="page", className="page")]
    app.layout = html.Div(shell, className="app")
    # Every panel's ids, so Dash can validate callbacks whose components are not on screen yet.
    app.validation_layout = html.Div([*shell, browser.layout(), run_page.layout(), compare.layout()])

    def _warm(pathname) -> None:
        # a long metrics.jsonl starts parsing while the page loads, not when its curves ask
        run_id = run_id_from_path(pathname)
        if run_id is not None:
            store.warm(run_id)

    @app.server.before_request
    def _warm_on_page_request():
        import flask

        _warm(flask.request.path)  # a run page opened directly (typed, reloaded, bookmarked)

    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def _route(pathname):
        if isinstance(pathname, str) and pathname.startswith(RUN_PREFIX):
            _warm(pathname)  # reached by a link inside the app: no page request to hook
            return run_page.layout()
        if isinstance(pathname, str) and pathname.startswith(COMPARE_PREFIX):
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
        w = flask.request.args.get("w", "")
        if w.isdigit() and int(w) in THUMB_WIDTHS:
            from dashboards.evaluate import thumbnail_png

            try:
                data = thumbnail_png(path, int(w))
            except (OSError, ValueError):
                flask.abort(404)
            resp = flask.make_response(data)
            resp.headers["Content-Type"] = "image/png"
            resp.headers["Cache-Control"] = "max-age=3600"
            return resp
        return flask.send_file(path, mimetype="image/png", max_age=3600)

    @app.server.route(REAL_ROUTE + "<path:rel>")
    def _real_grid(rel):
        import flask

        from dashboards.evaluate import real_grid_png

        run_id = rel[:-4] if rel.endswith(".png") else rel
        run_id = "." if run_id == "~root" else run_id
        try:
            path = store.resolve(run_id)
            run = store._small_files(path, store.signature(run_id))
        except UserError:
            flask.abort(404)
        try:
            data = real_grid_png(run.config)
        except UserError as e:  # an image saying why, not a broken image on the page
            from dashboards.evaluate import message_png

            data = message_png(f"real data unavailable: {e}")
        resp = flask.make_response(data)
        resp.headers["Content-Type"] = "image/png"
        resp.headers["Cache-Control"] = "max-age=3600"
        return resp

    # Plotly builds its validators lazily (~0.5 s on first use), scipy's filter module loads on
    # the first smoothing, and each subplot grid is built once (figures._grid): pay these now,
    # for the grids of Monitor's fields with and without split D/G axes, not on the first page
    # a person opens.
    monitor = {n: ([0, 1], [0.5, 1.0]) for n in ("d_loss", "d_real", "d_fake", "grad_norm_d",
                                                 "grad_norm_g")}
    for g_loss in ([5.0, 9.0], [0.5, 1.0]):  # G's scale far from D's (split axes), then alike
        F.dynamics_figure({**monitor, "g_loss": ([0, 1], g_loss)},
                          [{"code": "healthy", "severity": "info", "steps": [0, 1]}], smoothing=0.6)
    app.store = store  # for tests and the benchmark
    app.jobs = jobs
    app.panels = {"browser": browser, "run": run_page, "compare": compare}
    return app
