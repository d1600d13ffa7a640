"""Small pieces shared by the panels: the panel base class, URLs, badges, number formatting."""
from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote

from dash import html

from dashboards.figures import severity_color

RUN_PREFIX = "/run/"
COMPARE_PREFIX = "/compare/"
FILE_ROUTE = "/_runs-file/"


class Panel:
    """Base of every panel: ``prefix`` namespaces its component ids so two panels never clash."""

    def __init__(self, store, prefix: str):
        self.store = store
        self.prefix = prefix

    def id(self, name: str) -> str:
        """Namespaced component id: ``<prefix>-<name>``."""
        return f"{self.prefix}-{name}"

    def layout(self):  # pragma: no cover - interface
        """The panel's component tree (ids only; data arrives through callbacks)."""
        raise NotImplementedError

    def set_callbacks(self, app) -> None:  # pragma: no cover - interface
        """Register the panel's callbacks on ``app``."""
        raise NotImplementedError


def run_href(run_id: str) -> str:
    """URL path of a run page (each segment percent-encoded; the root run itself is ``/run/``).

    "." is never put in a URL: browsers drop dot segments, so ``/run/.`` would arrive as ``/run/``.
    """
    return RUN_PREFIX + ("" if run_id == "." else quote(run_id, safe="/"))


def run_id_from_path(pathname: str | None) -> str | None:
    """The run id of a run-page URL ("." for ``/run/``), or None on another page."""
    if not isinstance(pathname, str) or not pathname.startswith(RUN_PREFIX):
        return None
    return unquote(pathname[len(RUN_PREFIX):]).strip("/") or "."


def compare_href(experiment: str) -> str:
    """URL path of an experiment's comparison page."""
    return COMPARE_PREFIX + quote(experiment, safe="")


def id_from_path(pathname: str | None, prefix: str) -> str | None:
    """The run id / experiment name in ``pathname`` after ``prefix``, or None on another page."""
    if not isinstance(pathname, str) or not pathname.startswith(prefix):
        return None
    return unquote(pathname[len(prefix):]).rstrip("/") or None


def file_href(rel: str, version: int | float = 0) -> str:
    """URL of a file served by the runs-file route (``version`` busts the browser cache)."""
    return f"{FILE_ROUTE}{quote(rel, safe='/')}?v={int(version)}"


def digest(obj) -> str:
    """Short stable hash of a signature, stored in the browser to detect changes."""
    return hashlib.sha1(repr(obj).encode()).hexdigest()[:16]


def badge(text: str, severity: str, className: str = "badge", **kw) -> html.Span:
    """A coloured verdict badge (``className`` adds size classes: badge-big, badge-small)."""
    return html.Span(text, className=f"{className} badge-{severity}", title=severity, **kw,
                     style={"background": severity_color(severity)})


def fmt(value, digits: int = 4) -> str:
    """A number for a table cell: 4 significant digits, '-' when missing (never raises)."""
    from dashboards.tables import fmt as _fmt

    return _fmt(value, digits)


def metric_text(name: str, m: dict) -> str:
    """``fid 31.2 [mnist-lenet]``: a metric value always with its extractor."""
    return f"{name} {fmt(m.get('value'))} [{m.get('features') or '?'}]"


def sort_ids(prefix: str):
    """The pattern-matching id of a panel's sortable-table header buttons (any table, any column)."""
    from dash import ALL

    return {"type": f"{prefix}-sort", "table": ALL, "col": ALL}


def clicked_sort(prefix: str, old):
    """New sort state of a panel from the header click that triggered the callback.

    ``old`` maps table id -> {"col", "desc"}. Raises PreventUpdate when nothing was clicked (a
    table re-rendered with fresh buttons fires the callback with n_clicks 0).
    """
    from dash import ctx
    from dash.exceptions import PreventUpdate

    from dashboards.tables import next_sort

    trig = ctx.triggered_id
    if not isinstance(trig, dict) or not any(t.get("value") for t in ctx.triggered):
        raise PreventUpdate
    state = dict(old) if isinstance(old, dict) else {}
    table = str(trig.get("table"))
    state[table] = next_sort(state.get(table), str(trig.get("col")))
    return state


def sortable(prefix: str, table: str, columns, rows, sort_state, class_name="data-table"):
    """A sortable table of a panel (header ids follow :func:`sort_ids`)."""
    from dashboards.tables import sortable_table

    state = sort_state.get(table) if isinstance(sort_state, dict) else None
    return sortable_table(table, columns, rows, state, class_name, id_type=f"{prefix}-sort")
