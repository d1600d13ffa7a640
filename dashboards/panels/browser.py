"""Run browser: every run under the root, grouped by experiment, as sortable tables with sparklines."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.panels import parts as P
from dashboards.panels.common import (Panel, clicked_sort, compare_href, digest, sort_ids,
                                      sortable)

KEY_FIELDS = (("d_loss", "D loss"), ("g_loss", "G loss"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"))


def _matches(s, needle: str) -> bool:
    hay = " ".join([s.run_id, s.experiment, s.variant, s.verdict, s.severity]).lower()
    return all(word in hay for word in needle.lower().split())


def run_table(summaries, prefix: str = "browser", table: str = "runs", sort_state=None):
    """Sortable table of runs: link, verdict badge, confidence, step, loss sparklines, D outputs,
    the headline metrics coloured by their distance from real data."""
    headline = P.headline_metrics([s.metrics for s in summaries])
    rows = [P.run_row(s.run_id, s.variant, s.verdict, s.severity, s.confidence, s.last.get("step"),
                      s.last, s.spark, s.metrics, headline, live=s.live, damaged=s.damaged)
            for s in summaries]
    return sortable(prefix, table, P.run_columns(headline), rows, sort_state,
                    class_name="data-table runs-table")


class RunBrowser(Panel):
    """Lists the runs; re-renders only when a run's files change, the filter or the sort changes."""

    def __init__(self, store, prefix: str = "browser", refresh_ms: int = 2000):
        super().__init__(store, prefix)
        self.refresh_ms = refresh_ms

    def layout(self):
        return html.Div([
            html.Div([html.H2("Runs"),
                      dcc.Input(id=self.id("filter"), type="text", debounce=False,
                                placeholder="filter: experiment, variant, verdict...",
                                className="filter")], className="page-head"),
            html.Div(id=self.id("list")),
            dcc.Store(id=self.id("sig")),
            dcc.Store(id=self.id("sort"), data={}),
            dcc.Interval(id=self.id("interval"), interval=self.refresh_ms),
        ])

    def listing(self) -> tuple[dict, tuple]:
        """(runs grouped by experiment, signature of what the listing shows)."""
        groups = self.store.experiments()
        sig = tuple((s.run_id, s.verdict, s.severity, s.live, tuple(sorted(map(str, s.last.items()))))
                    for g in groups.values() for s in g)
        return groups, sig

    def render(self, needle: str | None, sort_state=None, listing=None) -> tuple[list, tuple]:
        """(children, signature) for the filter text; used by the callback and by tests."""
        needle = needle if isinstance(needle, str) else ""
        groups, sig = listing or self.listing()
        self.store.prefetch([s.path for g in groups.values() for s in g if s.path and not s.damaged])
        if not groups:
            return [html.P("No runs found. Train one with `diagnose run --exp NAME --quick`, or "
                           "point --runs at a folder of Monitor runs.")], sig
        out = []
        for exp, summaries in groups.items():
            shown = [s for s in summaries if not needle or _matches(s, needle)]
            if not shown:
                continue
            damaged = [s for s in shown if s.damaged]
            out.append(html.Div([
                html.H3([exp, " ", dcc.Link(f"compare {len(summaries)} variants",
                                            href=compare_href(exp), className="compare-link")]),
                run_table(shown, self.prefix, f"exp:{exp}", sort_state),
                html.Ul([html.Li(f"{s.run_id}: {s.damaged}") for s in damaged],
                        className="damaged-list") if damaged else None,
            ], className="card experiment", **{"data-experiment": exp}))
        return out or [html.P("No run matches the filter.")], sig

    def set_callbacks(self, app) -> None:
        @app.callback(Output(self.id("sort"), "data"), Input(sort_ids(self.prefix), "n_clicks"),
                      State(self.id("sort"), "data"), prevent_initial_call=True)
        def _sort(_clicks, old):
            return clicked_sort(self.prefix, old)

        @app.callback(Output(self.id("list"), "children"), Output(self.id("sig"), "data"),
                      Input(self.id("filter"), "value"), Input(self.id("interval"), "n_intervals"),
                      Input(self.id("sort"), "data"), State(self.id("sig"), "data"))
        def _update(needle, _n, sort_state, old):
            needle = needle if isinstance(needle, str) else ""
            sort_state = sort_state if isinstance(sort_state, dict) else {}
            listing = self.listing()
            key = digest((listing[1], needle, sort_state))
            if key == old:  # nothing changed on disk: keep the DOM as it is, build nothing
                raise PreventUpdate
            children, _ = self.render(needle, sort_state, listing)
            return children, key
