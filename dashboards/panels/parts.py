"""Renderers shared by the pages: the verdict card, metric tables, run rows, the film strip."""
from __future__ import annotations

from dash import dcc, html

from dashboards import tables as T
from dashboards.figures import flag_steps
from dashboards.panels.common import badge, file_href, fmt, run_href

#: Flags about samples (measured on a checkpoint), as opposed to the training dynamics.
SAMPLE_FLAGS = frozenset({"mode_collapse", "partial_collapse", "not_converged", "memorization",
                          "range_mismatch", "healthy"})


def headline_extractor(metrics: dict) -> tuple[str | None, int | None]:
    """(feature extractor, n) shared by the verdict's metrics (the first one found)."""
    for _, m in T.metric_items(metrics):
        feats, n = m.get("features"), m.get("n")
        if feats:
            return str(feats), n if isinstance(n, int) and not isinstance(n, bool) else None
    return None, None


def verdict_card(view, badge_id: str) -> html.Div:
    """Headline code, confidence, n and extractor, the deciding flag's sentence and its advice.

    Every other flag follows as one line (badge, where it is drawn, summary), so nothing the verdict
    says is hidden, but the card stays a few lines high.
    """
    v = view.run.verdict or {}
    code = v.get("verdict") or ("warnings" if view.flags else "no verdict yet")
    feats, n = headline_extractor(v.get("metrics") or {})
    top = next((f for f in view.flags if f.get("code") == code), view.flags[0] if view.flags else None)
    facts = [f"confidence {fmt(v.get('confidence'), 2)}" if v.get("confidence") is not None else None,
             f"features {feats}" if feats else None, f"n = {fmt(n)}" if n else None,
             f"{len(view.flags)} flag{'s' if len(view.flags) != 1 else ''}"]
    if not v:
        summary = ("No verdict.json yet: it appears here as soon as the run (or "
                   "`diagnose logs`/`Monitor`) writes it."
                   + (" Live warnings so far are listed below." if view.flags else ""))
    else:
        summary = (top or {}).get("summary") or "No flag: nothing in the logs or samples looks wrong."
    advice = (top or {}).get("advice") or []
    others = []
    for f in view.flags:
        if f is top:
            continue
        st = flag_steps(f)
        where = (f"steps {st[0]:,.0f}-{st[1]:,.0f}, shaded on the curves" if st else
                 "from the sample check: marked on the samples and evaluations"
                 if f.get("code") in SAMPLE_FLAGS else "whole run")
        others.append(html.Li([badge(f.get("code", "?"), f.get("severity", "warn")),
                               html.Span(f" {f.get('summary', '')}"),
                               html.Span(f" ({where}{'; live warning' if f.get('source') == 'live' else ''})",
                                         className="muted")], className="flag"))
    return html.Div([
        html.Div([badge(code, view.severity, id=badge_id, className="badge badge-big"),
                  html.Span(" · ".join(x for x in facts if x), className="facts")],
                 className="verdict-head"),
        html.P(summary, className="verdict-summary"),
        html.Div([html.Div("What to try", className="label"),
                  html.Ul([html.Li(a) for a in advice])], className="advice") if advice else None,
        html.Details([html.Summary(f"{len(others)} more flag{'s' if len(others) != 1 else ''}"),
                      html.Ul(others, className="flags")], open=len(others) <= 4,
                     className="more-flags") if others else None,
    ], className=f"card verdict-card sev-{view.severity}")


METRIC_COLUMNS = (("metric", "metric", ""), ("value", "generated", "value on generated samples"),
                  ("reference", "real data", "same number on held-out real data"),
                  ("gap", "vs real", "generated relative to real: ratio, or difference for shares"),
                  ("features", "extractor", "feature extractor that produced the number"),
                  ("n", "n", "samples measured"))


def _gap(name: str, m: dict) -> tuple[str, float | None]:
    v, r = T._num(m.get("value")), T._num(m.get("reference"))
    if v is None or r is None:
        return "-", None
    if name in T.SHARES:
        return f"{v - r:+.2f}", v - r
    if r == 0:
        return "-", None
    return f"{v / r:.3g}×", v / r


def metric_rows(metrics: dict) -> list[dict]:
    """Rows of the run page's metric table: one per metric of the verdict (or last evaluation)."""
    rows = []
    for name, m in T.metric_items(metrics):
        text, tip = T.metric_cell(m)
        gap_text, gap = _gap(name, m)
        t = T.tone(name, m.get("value"), m.get("reference"))
        of = T._num(m.get("of"))
        ref = fmt(m.get("reference")) + (f" / {fmt(int(of))}" if of is not None else "")
        rows.append({"cells": {"metric": name, "value": text, "reference": ref, "gap": gap_text,
                               "features": str(m.get("features") or "?"), "n": fmt(m.get("n"))},
                     "tones": {"value": t, "gap": t},
                     "title": {"value": tip, "gap": f"{t or 'no reference'}: colour bands are for "
                               "reading, the verdict's rules decide"},
                     "sort": {"metric": name, "value": T._num(m.get("value")),
                              "reference": T._num(m.get("reference")), "gap": gap,
                              "features": str(m.get("features") or ""), "n": T._num(m.get("n"))}})
    return rows


def run_columns(headline: list[str], with_experiment: bool = False) -> list[tuple[str, str, str]]:
    """Columns of a table of runs (browser and compare page)."""
    cols = [("run", "run", "variant (click to open)")]
    cols += [("verdict", "verdict", "verdict code, coloured by severity"),
             ("confidence", "conf.", "confidence of the verdict"),
             ("step", "step", "last logged step"),
             ("losses", "D / G loss", "sparklines of D loss (top) and G loss over the whole run"),
             ("d_real", "D(x)", "last D(x)"), ("d_fake", "D(G(z))", "last D(G(z))")]
    cols += [(f"m:{h}", h, f"{h} on generated samples; colour: distance from real data "
              f"(hover a cell for the reference, extractor and n)") for h in headline]
    return cols


def headline_metrics(metric_maps: list[dict]) -> list[str]:
    """The headline metrics present in any of the maps, in display order."""
    present = {k for m in metric_maps for k, _ in T.metric_items(m)}
    return [h for h in T.HEADLINE if h in present]


def run_row(run_id: str, variant: str, verdict: str, severity: str, confidence, step, last: dict,
            spark: dict, metrics: dict, headline: list[str], live: bool = False,
            damaged: str = "") -> dict:
    """One row of a table of runs (see :func:`run_columns`)."""
    vcell = [badge(verdict, severity)]
    if live:
        vcell.append(html.Span(" live", className="live"))
    d_spark = T.sparkline(spark.get("d_loss") or [])
    g_spark = T.sparkline(spark.get("g_loss") or [])
    cells = {"run": dcc.Link(variant, href=run_href(run_id), className="run-link", title=run_id),
             "verdict": vcell, "confidence": fmt(confidence, 2), "step": fmt(step, 9),
             "losses": html.Div([html.Div(d_spark or "-", className="spark spark-d",
                                          title="D loss"),
                                 html.Div(g_spark or "-", className="spark spark-g",
                                          title="G loss")]),
             "d_real": fmt(last.get("d_real"), 3), "d_fake": fmt(last.get("d_fake"), 3)}
    tones, titles = {}, {}
    sort = {"run": variant, "verdict": verdict, "confidence": T._num(confidence),
            "step": T._num(step), "d_real": T._num(last.get("d_real")),
            "d_fake": T._num(last.get("d_fake")),
            "losses": T._num((spark.get("g_loss") or [None])[-1])}
    for h in headline:
        m = (metrics or {}).get(h)
        if isinstance(m, dict) and "value" in m:
            text, tip = T.metric_cell(m)
            cells[f"m:{h}"] = text
            titles[f"m:{h}"] = tip
            tones[f"m:{h}"] = T.tone(h, m.get("value"), m.get("reference"))
            sort[f"m:{h}"] = T._num(m.get("value"))
        else:
            cells[f"m:{h}"] = "-"
    if damaged:
        titles["verdict"] = damaged
    return {"cells": cells, "tones": tones, "title": titles, "sort": sort, "run": run_id}


def strip_frames(samples: list, k: int = 10) -> list[int]:
    """Indices of at most ``k`` snapshots spread over the run, first and last included."""
    n = len(samples)
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def frame_flags(step: float, flags: list[dict], verdict_step: float | None) -> list[dict]:
    """The flags that concern the snapshot at ``step``: its step range covers it, or it is a
    sample flag without a range measured at ``verdict_step``."""
    out = []
    for f in flags:
        st = flag_steps(f)
        if st is not None:
            if st[0] <= step <= st[1]:
                out.append(f)
        elif f.get("code") in SAMPLE_FLAGS and f.get("code") != "healthy" \
                and verdict_step is not None and step == verdict_step:
            out.append(f)
    return out


def film_strip(prefix: str, store_root, samples: list, flags: list[dict],
               verdict_step: float | None, selected: int, thumb: int = 140) -> html.Div:
    """Thumbnails of the fixed-latent grids over training; a click selects that snapshot."""
    frames = []
    for i in strip_frames(samples):
        step, path = samples[i]
        rel = path.resolve().relative_to(store_root).as_posix()
        try:
            version = path.stat().st_mtime_ns
        except OSError:
            version = 0
        fl = frame_flags(step, flags, verdict_step)
        worst = max((f.get("severity", "warn") for f in fl),
                    key=lambda s: {"info": 1, "warn": 2, "fail": 3}.get(s, 0), default=None)
        frames.append(html.Button([
            html.Img(src=file_href(rel, version) + f"&w={thumb}", alt=f"step {step}",
                     className="thumb"),
            html.Div(f"step {step:,}", className="frame-step"),
            html.Div([badge(f.get("code", "?"), f.get("severity", "warn"), className="badge badge-small")
                      for f in fl if flag_steps(f) is None][:2], className="frame-flags"),
        ], id={"type": f"{prefix}-frame", "index": i},
            className="frame" + (" selected" if i == selected else "")
            + (f" flagged-{worst}" if worst else ""),
            title="; ".join(f"{f.get('code')}: {f.get('summary', '')}" for f in fl) or f"step {step}",
            n_clicks=0))
    return html.Div(frames, className="film-strip")
