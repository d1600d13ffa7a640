"""The dynamics verdict: ingest a log, run the detectors, and write the verdict with what it saw.

:func:`analyze` is the one path from a log (or a Table) to a verdict dict; ``diagnose logs``,
``judge_logs`` on folders, the run verdict and the live Monitor detectors all end here.
"""
from __future__ import annotations

from pathlib import Path

from diagnose.dynamics.context import DEFAULT, Context, Thresholds
from diagnose.dynamics.detectors import detect
from diagnose.dynamics.ingest import ingest
from diagnose.dynamics.table import Table


def series_summary(table: Table) -> dict:
    """Per series: points, min, max, last finite value, non-finite count."""
    import numpy as np

    out = {}
    for name in table.present():
        v = table.columns[name]
        fin = v[np.isfinite(v)]
        out[name] = {"points": int(fin.size),
                     "nonfinite": int(table.nonfinite.get(name, np.zeros(0, bool)).sum()),
                     "min": float(fin.min()) if fin.size else None,
                     "max": float(fin.max()) if fin.size else None,
                     "last": float(fin[-1]) if fin.size else None}
    return out


def analyze(path_or_table: str | Path | Table, format: str = "auto", pattern: str | None = None,
            thresholds: Thresholds = DEFAULT, subject: str | None = None,
            mapping: dict | None = None) -> dict:
    """Ingest a log (or take a Table), run the detectors, return the verdict dict.

    Besides the verdict schema's fields the verdict carries ``dynamics``: points and steps judged, the
    smoothing window, the inferred loss convention (and whether D(G(z)) was inferred from the G
    loss), a summary per series, and ``ingestion``: the ingestion report (format, rows, what was
    skipped and why, the name mapping), ``roles`` (which series was taken as D loss, G loss,
    D(x), D(G(z)) and why), ``family`` (the inferred loss family and why) and ``looked_at``.
    ``mapping`` ({role: series name, "family": name}) overrides the inferred roles and family.
    """
    from diagnose.core.verdict import make_verdict

    table = path_or_table if isinstance(path_or_table, Table) else \
        ingest(path_or_table, format=format, pattern=pattern, mapping=mapping)
    ctx = Context(table, thresholds)
    flags = detect(table, thresholds, context=ctx)
    steps = [int(ctx.steps[0]), int(ctx.steps[-1])] if ctx.n else None
    dynamics = {"points": ctx.n, "steps": steps, "smoothing_window": ctx.window,
                "evidence_weight": round(ctx.weight, 3),
                "conventions": {**ctx.conv, "d_fake_inferred_from_g_loss": ctx.inferred_fake},
                "series": series_summary(table),
                "roles": (table.report.get("roles") or {}).get("mapping", {}),
                "family": table.family or {"name": "bce", "why": ["assumed"]},
                "looked_at": "losses only (training dynamics read from the logged scalars)"}
    if ctx.n < 10:
        dynamics["note"] = (f"only {ctx.n} points: short persistence windows, lower confidence")
    if ctx.only_start:
        dynamics["warmup"] = ("the log covers only the start of the run (its first "
                              f"{int(ctx.steps[-1]) + 1} {ctx.steps_are}): a D at chance there is "
                              "initialisation, not d_not_learning")
    subject = subject or table.source or "log"
    verdict = make_verdict(subject, flags, metrics=None, dynamics=dynamics, ingestion=table.report)
    if verdict["verdict"] == "healthy" and ctx.n:
        # "nothing found" is only as sure as the evidence behind it: fewer points, less sure
        verdict["confidence"] = round(0.8 * ctx.weight, 3)
    return verdict


def analyze_run(run_dir: str | Path, thresholds: Thresholds = DEFAULT) -> dict:
    """Verdict of a run directory's metrics.jsonl (dynamics flags only)."""
    return analyze(run_dir, format="run", thresholds=thresholds)
