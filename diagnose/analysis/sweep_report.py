"""The text and JSON of ``diagnose validate --sweep``: confusion matrix, flip points per dial,
accuracy on each half of the split, the reliability table, and (with --refit) the refitted tables.
"""
from __future__ import annotations

from diagnose.analysis import sweep

SHORT = {"healthy": "healthy", "mode_collapse": "collapse", "mode_collapse+not_converged": "coll+nc",
         "partial_collapse": "partial", "memorization": "memo", "not_converged": "not_conv",
         "range_mismatch": "range", "diverged": "diverged"}


def confusion_text(rows: list[dict]) -> str:
    """Rows: truth; columns: headline given."""
    cm = sweep.confusion(rows)
    cols = [c for c in sweep.CLASSES if any(c in v for v in cm.values())]
    trs = [c for c in sweep.CLASSES if c in cm]
    w = max(len(t) for t in trs) if trs else 5
    head = "truth / headline"
    lines = [f"{head:<{w}}  " + "".join(f"{SHORT[c]:>10}" for c in cols)]
    for t in trs:
        lines.append(f"{t:<{w}}  " + "".join(f"{cm[t].get(c, 0) or '.':>10}" for c in cols))
    return "\n".join(lines)


def reliability_text(rows: list[dict]) -> str:
    """Confidence bin, count, mean confidence, share right."""
    lines = [f"{'confidence':<12}{'count':>6}{'mean conf':>11}{'share right':>13}"]
    for b in sweep.reliability(rows):
        mc = "-" if b["mean_confidence"] is None else f"{b['mean_confidence']:.2f}"
        sr = "-" if b["share_right"] is None else f"{b['share_right']:.2f}"
        lines.append(f"{b['bin']:<12}{b['count']:>6}{mc:>11}{sr:>13}")
    return "\n".join(lines)


def flips_text(rows: list[dict]) -> str:
    """Per dial: where the truth flips, where the verdict flips."""
    lines = []
    for f in sweep.flip_points(rows):
        lines.append(f"{f['dial']} ({f['right']}/{f['settings']} right"
                     f"{', flips agree' if f['agree'] else ''})")
        lines.append("    truth:   " + ("; ".join(f["truth_flips"]) or "no flip"))
        lines.append("    verdict: " + ("; ".join(f["verdict_flips"]) or "no flip"))
    return "\n".join(lines)


def table_text(rows: list[dict]) -> str:
    """Every setting: dial, value, half, truth, headline class, confidence."""
    lines = [f"{'dial':<10}{'setting':<20}{'half':<8}{'truth':<29}{'headline':<29}conf"]
    for r in rows:
        mark = "" if r["predicted"] == r["truth"] else "  <- wrong"
        lines.append(f"{r['dial']:<10}{r['value']:<20}{r['half']:<8}{r['truth']:<29}"
                     f"{r['predicted']:<29}{r['verdict']['confidence']:.2f}{mark}")
    return "\n".join(lines)


def _acc(rows):
    return (sum(r["predicted"] == r["truth"] for r in rows), len(rows))


def report(rows: list[dict], n: int, refit: dict | None = None) -> tuple[dict, str]:
    """(JSON data, text) of a sweep."""
    fit = [r for r in rows if r["half"] == "fit"]
    rep = [r for r in rows if r["half"] == "report"]
    parts = [f"graded ground-truth suite: {len(rows)} settings, n = {n:,} samples each "
             f"(judged at n = {min(n, 1000):,})", "", table_text(rows), "",
             "confusion matrix, report half (thresholds were not chosen on these settings):",
             confusion_text(rep), "", "confusion matrix, all settings:", confusion_text(rows), "",
             "flip points per dial:", flips_text(rows), ""]
    a_fit, a_rep = _acc(fit), _acc(rep)
    parts.append(f"accuracy: fit half {a_fit[0]}/{a_fit[1]}, report half {a_rep[0]}/{a_rep[1]}")
    parts += ["", "reliability, report half:", reliability_text(rep), "",
              "reliability, all settings:", reliability_text(rows)]
    data = {"n": n, "settings": [{k: r[k] for k in ("dial", "value", "half", "truth", "predicted")}
                                 | {"confidence": r["verdict"]["confidence"],
                                    "headline": r["verdict"].get("headline")} for r in rows],
            "confusion_report_half": sweep.confusion(rep), "confusion_all": sweep.confusion(rows),
            "flips": sweep.flip_points(rows), "accuracy": {"fit": a_fit, "report": a_rep},
            "reliability_report_half": sweep.reliability(rep),
            "reliability_all": sweep.reliability(rows)}
    if refit:
        data["refit"] = refit
        parts += ["", "refitted on the fit half (paste into diagnose/analysis/calibration.py):",
                  refit_text(refit)]
    return data, "\n".join(parts)


def refit_text(refit: dict) -> str:
    """The calibration module's tables as Python literals."""
    th = ",\n".join(f"    {k!r}: {v!r}" for k, v in refit["thresholds"].items())
    cf = ",\n".join(f"    {k!r}: {tuple(v)!r}" for k, v in refit["confidence"].items())
    return (f"THRESHOLDS = {{\n{th},\n}}\nCONFIDENCE = {{\n{cf},\n}}\n"
            f"FITTED_ON = {refit['fitted_on']!r}\n"
            f"# accuracy with these: fit half {refit['accuracy_fit']}, report half "
            f"{refit['accuracy_report']}")


def do_refit(rows: list[dict], n: int) -> dict:
    """Choose thresholds and fit confidences on the fit half; evaluate on the report half."""
    from diagnose.analysis import calibration

    fit = [r for r in rows if r["half"] == "fit"]
    th = sweep.fit_thresholds(fit)
    conf = sweep.fit_confidence(fit, points=sweep.held_out_margins(fit))
    old = dict(calibration.CONFIDENCE)
    calibration.CONFIDENCE.update(conf)
    try:
        rejudged = sweep.apply(rows, th)
    finally:
        calibration.CONFIDENCE.clear()
        calibration.CONFIDENCE.update(old)
    f2 = [r for r in rejudged if r["half"] == "fit"]
    r2 = [r for r in rejudged if r["half"] == "report"]
    acc = lambda rs: f"{sum(r['predicted'] == r['truth'] for r in rs)}/{len(rs)}"  # noqa: E731
    return {"thresholds": th, "confidence": conf, "rows": rejudged,
            "fitted_on": f"fit half of the graded suite ({len(fit)} settings), n = {n:,}",
            "accuracy_fit": acc(f2), "accuracy_report": acc(r2)}

