"""Run browser: every run under the root, grouped by experiment, with its verdict badge."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboards.panels.common import Panel, badge, compare_href, digest, fmt, metric_text, run_href

KEY_FIELDS = (("d_loss", "D loss"), ("g_loss", "G loss"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"))


def _matches(s, needle: str) -> bool:
    hay = " ".join([s.run_id, s.experiment, s.variant, s.verdict, s.severity]).lower()
    return all(word in hay for word in needle.lower().split())


def run_table(summaries) -> html.Table:
    """Table of runs: variant link, verdict badge, last step, last losses and D outputs, metrics."""
    head = html.Tr([html.Th(h) for h in ("run", "verdict", "conf.", "step",
                                         *(label for _, label in KEY_FIELDS), "metrics", "flags")])
    rows = []
    for s in summaries:
        verdict = [badge(s.verdict, s.severity)]
        if s.live:
            verdict.append(html.Span(" live", className="live", style={"color": "#2ca02c"}))
        metrics = "; ".join(metric_text(k, m) for k, m in list(s.metrics.items())[:3]) or "-"
        rows.append(html.Tr([
            html.Td(dcc.Link(s.variant, href=run_href(s.run_id), className="run-link",
                             title=s.run_id)),
            html.Td(verdict), html.Td(fmt(s.confidence, 2)), html.Td(fmt(s.last.get("step"), 9)),
            *(html.Td(fmt(s.last.get(k))) for k, _ in KEY_FIELDS),
            html.Td(metrics), html.Td(str(s.n_flags))]))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="runs-table")


class RunBrowser(Panel):
    """Lists the runs; re-renders only when a run's files change or the filter text changes."""

    def __init__(self, store, prefix: str = "browser", refresh_ms: int = 2000):
        super().__init__(store, prefix)
        self.refresh_ms = refresh_ms

    def layout(self):
        return html.Div([
            html.H2("Runs"),
            html.Div(f"under {self.store.root}", className="muted"),
            dcc.Input(id=self.id("filter"), type="text", debounce=False,
                      placeholder="filter: experiment, variant, verdict...",
                      style={"width": "420px", "margin": "10px 0"}),
            html.Div(id=self.id("list")),
            dcc.Store(id=self.id("sig")),
            dcc.Interval(id=self.id("interval"), interval=self.refresh_ms),
        ])

    def render(self, needle: str | None) -> tuple[list, tuple]:
        """(children, signature) for the filter text; used by the callback and by tests."""
        groups = self.store.experiments()
        self.store.prefetch([s.path for g in groups.values() for s in g if s.path])
        sig = tuple((s.run_id, s.verdict, s.severity, s.live, tuple(sorted(s.last.items())))
                    for g in groups.values() for s in g)
        if not groups:
            return [html.P("No runs found. Train one with `diagnose run --exp NAME --quick`, or "
                           "point --runs at a folder of Monitor runs.")], sig
        out = []
        for exp, summaries in groups.items():
            shown = [s for s in summaries if not needle or _matches(s, needle)]
            if not shown:
                continue
            out.append(html.Div([
                html.H3([exp, " ", dcc.Link(f"compare {len(summaries)} variants",
                                            href=compare_href(exp), className="compare-link",
                                            style={"fontSize": "0.6em", "marginLeft": "10px"})]),
                run_table(shown)], className="experiment", **{"data-experiment": exp}))
        return out or [html.P("No run matches the filter.")], sig

    def set_callbacks(self, app) -> None:
        @app.callback(Output(self.id("list"), "children"), Output(self.id("sig"), "data"),
                      Input(self.id("filter"), "value"), Input(self.id("interval"), "n_intervals"),
                      State(self.id("sig"), "data"))
        def _update(needle, _n, old):
            children, sig = self.render(needle)
            key = digest((sig, needle))
            if key == old:  # nothing changed on disk: keep the DOM as it is
                raise PreventUpdate
            return children, key
