"""Experiment comparison: the variants' curves overlaid and a table of their verdicts."""
from __future__ import annotations

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from diagnose.errors import UserError

from dashboards import figures as F
from dashboards.panels.common import (COMPARE_PREFIX, Panel, badge, digest, fmt, id_from_path,
                                      metric_text, run_href)

FIELDS = (("d_loss", "D loss"), ("g_loss", "G loss"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"),
          ("grad_norm_d", "|grad D|"), ("grad_norm_g", "|grad G|"))


def verdict_table(views) -> html.Table:
    """One row per variant: verdict badge, confidence, the deciding flag's summary, metrics."""
    head = html.Tr([html.Th(h) for h in ("variant", "verdict", "conf.", "why", "metrics", "steps")])
    rows = []
    for view in views:
        v = view.run.verdict or {}
        code = v.get("verdict") or ("warnings" if view.flags else "no verdict yet")
        top = next((f for f in view.flags if f.get("code") == code), view.flags[0] if view.flags else {})
        metrics = "; ".join(metric_text(k, m) for k, m in (v.get("metrics") or {}).items()
                            if isinstance(m, dict)) or "-"
        rows.append(html.Tr([
            html.Td(dcc.Link(view.run.variant, href=run_href(view.run_id))),
            html.Td(badge(code, view.severity)), html.Td(fmt(v.get("confidence"), 2)),
            html.Td(top.get("summary", "-")), html.Td(metrics),
            html.Td(f"{len(view.columns):,}")]))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="verdict-table")


class ComparePage(Panel):
    """Variants of one experiment side by side; refreshes when any of their files change."""

    def __init__(self, store, prefix: str = "compare", refresh_ms: int = 2000):
        super().__init__(store, prefix)
        self.refresh_ms = refresh_ms

    def layout(self):
        return html.Div([
            html.H2(id=self.id("title")),
            html.Div(id=self.id("table")),
            dcc.Checklist(id=self.id("fields"), options=[{"label": lbl, "value": k} for k, lbl in FIELDS],
                          value=[k for k, _ in FIELDS[:4]], inline=True,
                          style={"margin": "10px 0"}),
            dcc.Graph(id=self.id("graph"), config={"displaylogo": False}),
            dcc.Store(id=self.id("sig")),
            dcc.Interval(id=self.id("interval"), interval=self.refresh_ms),
        ])

    def views(self, experiment: str) -> list:
        """The run views of every variant of ``experiment``."""
        group = self.store.experiments().get(experiment)
        if not group:
            raise UserError(f"no experiment {experiment!r} under the runs root")
        return [self.store.view(s.run_id) for s in group]

    def figure(self, views, fields):
        """Overlaid curves of ``fields`` for ``views``."""
        runs = {v.run.variant: {n: v.columns.decimated(n) for n in fields} for v in views}
        return F.compare_figure(runs, names=fields)

    def set_callbacks(self, app) -> None:
        @app.callback(Output(self.id("title"), "children"), Output(self.id("table"), "children"),
                      Output(self.id("graph"), "figure"), Output(self.id("sig"), "data"),
                      Input("url", "pathname"), Input(self.id("interval"), "n_intervals"),
                      Input(self.id("fields"), "value"), State(self.id("sig"), "data"))
        def _update(pathname, _n, fields, old):
            exp = id_from_path(pathname, COMPARE_PREFIX)
            if exp is None:
                raise PreventUpdate
            try:
                views = self.views(exp)
            except UserError as e:
                return f"Experiment {exp}", html.Div(str(e)), F.empty_figure("nothing to compare"), None
            key = digest(([v.sig for v in views], fields))
            if key == old:
                raise PreventUpdate
            return (f"Experiment {exp}: {len(views)} variants", verdict_table(views),
                    self.figure(views, fields or []), key)
