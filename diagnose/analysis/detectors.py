"""Sample detectors (the "rules" of a check): metrics of a generator, compared with the same
metrics of held-out real data. Their counterparts on training losses are the dynamics detectors
(diagnose/dynamics/detectors.py); both make the same Flag objects (diagnose/core/verdict.py).

Every threshold is relative to the reference panel (held-out real data against the training set,
at the same n), e.g. "precision below half of what new real digits get", "more modes missing than
real data misses at this n". The rules judge at one n, the panel's (``reference.JUDGE_N``, with a
larger n averaged over blocks of that size: ``analysis.blocks``), so a generator gets the same
headline at n = 1,000, 5,000 or 10,000, and the headline says which n it was judged at.

Each rule computes a *score*: how far, in log units, its deciding statistic lies past its
threshold (positive: the rule fires). The flag carries the generated number, the real number, the
threshold, the score, and a confidence read off the score through the calibration table fitted on
the graded suite (``analysis.calibration``). The rules, in the order of the verdict codes (diagnose.core.verdict.CODES):

diverged          any generated sample has NaN/inf
range_mismatch    raw output range differs from the data's range (report 003)
mode_collapse     few distinct outputs: near-duplicates far above real data and a small birthday
                  support, or outputs that do not move when the latent does, or (for samples on
                  the data manifold) effective modes under a fifth of real data's
memorization      near-copies of training samples far more common than for held-out real data
not_converged     outputs unlike the data: precision (or % high-quality points) under half of
                  real data's and FID several times real data's
partial_collapse  modes that real data reaches at this n are missing, or the mode histogram is
                  far from the reference on both KL and NDB/K

A generator that is collapsed AND unlike the data never learned: its headline names both and its
advice is about D's dynamics, learning rates and initialisation, not about diversity.
Reports are cited as "report 00N" with a link into docs/EXPERIMENTS.md.
"""
from __future__ import annotations

import math
import re

from diagnose.analysis import calibration
from diagnose.core.verdict import Flag, make_verdict, metric_entry

#: Rule parameters (fitted on the suite's fit half; see analysis.calibration).
THRESHOLDS = calibration.THRESHOLDS
DUP_EXCESS = THRESHOLDS["dup_excess"]
SUPPORT_SHARE = THRESHOLDS["support_share"]
EFFECTIVE_MODES_SHARE = THRESHOLDS["effective_modes_share"]
SPREAD_SHARE = THRESHOLDS["spread_share"]
COPY_FACTOR = THRESHOLDS["copy_factor"]
COPY_FLOOR = THRESHOLDS["copy_floor"]
PRECISION_SHARE = THRESHOLDS["precision_share"]
FID_FACTOR = THRESHOLDS["fid_factor"]
MISSING_SHARE = THRESHOLDS["missing_share"]
OFF_MANIFOLD_SHARE = THRESHOLDS["off_manifold_share"]
KL_EXCESS = THRESHOLDS["kl_excess"]
NDB_EXCESS = THRESHOLDS["ndb_excess"]

#: Where the documented reports live in this repository.
DOC = "docs/EXPERIMENTS.md"


def cite(report: str) -> str:
    """'report 00N [docs/EXPERIMENTS.md#report-00N]': a report cited through the repository's docs."""
    return f"report {report} [{DOC}#report-{report}]"


def _f(x, nd=3):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}g}"


def _log_ratio(a, b) -> float:
    """log(a / b) for positive numbers, +-inf at the edges, -inf when undefined."""
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return -math.inf
    if b <= 0:
        return math.inf if a > 0 else -math.inf
    if a <= 0 or math.isinf(b):
        return -math.inf
    if math.isinf(a):
        return math.inf
    return math.log(a / b)


def _flag(code, severity, summary, evidence, advice, score) -> Flag:
    """A Flag whose confidence comes from the calibration table; the score goes in the evidence."""
    evidence = dict(evidence)
    evidence["score"] = score
    conf = calibration.confidence(code, score)
    evidence["confidence"] = conf
    return Flag(code, severity, summary, evidence, advice=advice, confidence=conf)


def _diverged(nonfinite: float) -> list[Flag]:
    if nonfinite <= 0:
        return []
    return [_flag("diverged", "fail", f"{nonfinite:.1%} of generated samples contain NaN/inf "
                  "(real data: 0%).", {"nonfinite_share": nonfinite, "real_reference": 0.0},
                  ["Load an earlier checkpoint: the weights blew up during training.",
                   "Lower the learning rates or clip gradients; use BCEWithLogitsLoss "
                   "instead of Sigmoid + BCELoss to avoid log(0)."], 1.0)]


def _range(rng: dict | None) -> list[Flag]:
    if not rng or not rng.get("mismatch"):
        return []
    lo, hi = rng["raw_range"]
    dlo, dhi = rng["data_range"]
    from diagnose.metrics.ranges import RANGE_TOLERANCE

    off = max(rng.get("offset_low") or 0.0, rng.get("offset_high") or 0.0)
    score = _log_ratio(off, RANGE_TOLERANCE) if off else 0.0
    return [_flag("range_mismatch", "fail", f"Generator outputs span [{lo:.2g}, {hi:.2g}] but the "
                  f"real data is in [{dlo:g}, {dhi:g}]: D can tell real from fake by scale alone.",
                  dict(rng), [
                      f"Scale real images to the generator's range: for a Tanh output use "
                      "Normalize((0.5,), (0.5,)) after ToTensor so data lies in [-1, 1] "
                      f"({cite('003')} trained [0, 1] digits against a Tanh G).",
                      "Or change G's last activation to match the data (Sigmoid for [0, 1])."],
                  max(score, 0.0))]


def _latent_is_map(context: dict) -> bool | None:
    """True when the measured latent is a spatial noise map (N, C, H, W) with H or W > 1."""
    shape = context.get("latent_shape")
    if not shape:
        return None
    return len(shape) >= 3 and any(int(s) > 1 for s in shape[1:])


def _lr_text(context: dict) -> str | None:
    lg, ld = context.get("lr_g"), context.get("lr_d")
    if not lg or not ld:
        return None
    r = lg / ld
    if r >= 3 or r <= 1 / 3:
        who = "D's" if r > 1 else "G's"
        return (f"lr_g {lg:g} and lr_d {ld:g}: {who} rate is {max(r, 1 / r):.0f}x smaller; start "
                f"from equal rates ({cite('000')}'s 200x smaller D rate starved G)")
    return f"lr_g {lg:g} and lr_d {ld:g} are balanced, so the rates are not the first suspect"


def _collapse_advice(context: dict) -> list[str]:
    """Advice for a generator that makes realistic samples, but too few kinds of them."""
    out = []
    lr = _lr_text(context)
    out.append("Learning rates: " + lr + "." if lr else
               "Balance D and G: equal learning rates first (a D rate far below G's starves G: "
               f"{cite('000')}).")
    loss = (context.get("loss") or "").lower()
    if "wgan" in loss or "hinge" in loss:
        out.append("Add diversity pressure: minibatch discrimination or PacGAN-style packing "
                   "(D judges several samples at once).")
    else:
        out.append("Add diversity pressure: minibatch discrimination or PacGAN-style packing, or "
                   "a WGAN-GP / hinge loss" + (f" instead of {context['loss']}" if loss else "") + ".")
    if _latent_is_map(context):
        shape = "(N, " + ", ".join(map(str, context["latent_shape"][1:] if len(context["latent_shape"]) > 3
                                       else context["latent_shape"])) + ")"
        out.append(f"Your latent is a spatial noise map {shape}: feed it as a vector through a "
                   f"linear projection instead ({cite('001')} trial 4).")
    out.append("Look at earlier checkpoints: collapse often begins at a visible step in the "
               "sample grids.")
    return out


def _never_learned_advice(context: dict, spread) -> list[str]:
    """Advice for a generator whose few outputs are also unlike the data: it never learned."""
    out = ["Diversity tricks cannot help a generator that never learned. Read D's dynamics first "
           "(`diagnose logs RUN`): D(x) and D(G(z)) stuck near 0.5, losses pinned at multiples of "
           f"ln 2, mean D gives G no signal ({cite('000')}); D(x)->1 and D(G(z))->0 from the first "
           "steps mean D won at once and G's gradients vanished."]
    lr = _lr_text(context)
    out.append("Learning rates: " + lr + "." if lr else
               "Learning rates: start from lr_g = lr_d = 2e-4 with Adam betas (0.5, 0.999); a "
               "D rate far below G's, or far above it, stalls learning.")
    shape = context.get("latent_shape")
    lat = (" The latent was measured as (N, " + ", ".join(map(str, shape)) + ").") if shape else ""
    dead = (f" Outputs of independent latents are only {spread:.2g}x as far apart as two real "
            "samples: the noise barely reaches the output.") if spread is not None else ""
    out.append("Initialisation: check G's weights were initialised (DCGAN: N(0, 0.02) conv "
               "weights, BatchNorm around N(1, 0.02)) and that a trained state dict was really "
               "loaded (strict=True); a generator saved before training looks like this." + dead + lat)
    return out


def _collapse(m: dict, p: dict, prof: dict | None, off_manifold: bool, th: dict) -> tuple:
    """(score, reasons, evidence) of the collapse rule."""
    d, dr = m["duplicates"], p["duplicates"]
    why, ev, scores = [], {}, []
    nj = d["n"]
    excess = d["duplicate_rate"] - dr["duplicate_rate"]
    s_dup = min(_log_ratio(excess, th["dup_excess"]),
                _log_ratio(th["support_share"] * nj, d["support_estimate"]))
    scores.append(s_dup)
    if s_dup > 0:
        why.append(f"{d['duplicate_rate']:.0%} of samples have a near-duplicate (real data: "
                   f"{dr['duplicate_rate']:.0%}), about {_f(d['support_estimate'])} distinct outputs")
    ev["duplicates"] = {"generated": {k: d.get(k) for k in ("duplicate_rate", "support_estimate",
                                                             "distinct_outputs", "n")},
                        "real_reference": {k: dr.get(k) for k in ("duplicate_rate", "support_estimate",
                                                                  "distinct_outputs", "n")},
                        "threshold": {"excess": th["dup_excess"],
                                      "support": th["support_share"] * nj}}
    eg, er = m["modes"]["effective_modes"], p["modes"]["effective_modes"]
    ev["effective_modes"] = {"generated": eg, "real_reference": er,
                             "threshold": th["effective_modes_share"] * er}
    spread = prof.get("spread") if prof else None
    ev["latent_spread"] = {"generated": spread, "real_reference": 1.0,
                           "threshold": th["spread_share"]}
    s_spread = _log_ratio(th["spread_share"], spread) if spread is not None else -math.inf
    scores.append(s_spread)
    if s_spread > 0:
        why.append(f"independent latents give outputs {spread:.2g}x as far apart as two real samples")
    # Mostly off the data manifold, class-based diversity says little (noise maps to one class),
    # so only the direct observations (duplicates, latent spread) may call collapse there.
    if not off_manifold:
        s_eff = _log_ratio(th["effective_modes_share"] * er, eg)
        scores.append(s_eff)
        if s_eff > 0:
            why.append(f"the samples amount to {eg:.2g} equally likely modes (real data: {er:.3g})")
    return max(scores), why, ev


def _memorization(m: dict, th: dict) -> tuple:
    """Exact or near copies: many samples within the near-copy distance of a training sample, or
    samples as a whole much closer to the training set than new real data is (lightly altered
    copies are not within the near-copy distance, but pull the median distance down)."""
    mz = m["memorization"]
    share, ref = mz["copy_share"], mz["reference_copy_share"]
    dist = mz.get("distance_ratio")
    s_share = _log_ratio(share, max(th["copy_floor"], th["copy_factor"] * ref))
    s_dist = (_log_ratio(th["memo_distance"], dist) if th["memo_distance"] > 0 and dist is not None
              else -math.inf)
    score = max(s_share, s_dist)
    if score <= 0:
        return score, []
    why = (f"{share:.0%} of samples are near-copies of training samples (held-out real data: "
           f"{ref:.0%})" if s_share > 0 else f"{share:.0%} of samples are near-copies (held-out "
           f"real data: {ref:.0%}), but samples sit closer to the training set than new real data")
    return score, [_flag("memorization", "fail", f"{why}; median distance to the training set is "
                         f"{_f(dist, 2)}x that of new real data.",
                         {"generated": mz, "real_reference": {"copy_share": ref, "distance_ratio": 1.0},
                          "threshold": {"copy_share": max(th["copy_floor"], th["copy_factor"] * ref),
                                        "distance_ratio": th["memo_distance"]}},
                         ["Train on more data or with augmentation (DiffAugment/ADA), or stop earlier.",
                          "Weaken D (dropout, smaller D, lower D learning rate): a D that memorizes "
                          "the training set teaches G to copy it."], score)]


def _not_converged(m: dict, p: dict, th: dict) -> tuple:
    """(score, why, evidence) of the not-converged rule."""
    if "mixture" in m and "mixture" in p:
        hq, hr = m["mixture"]["high_quality"], p["mixture"]["high_quality"]
        score = _log_ratio(th["precision_share"] * hr, hq)
        return score, (f"only {hq:.0%} of points lie within 3 std of a mode (real data: {hr:.0%})"), \
            {"high_quality": {"generated": hq, "real_reference": hr}}
    pr, prr = m["precision"], p["precision"]
    fid, fidr = m["fid"], p["fid"]
    # Far from every training sample too: k-NN precision of a generator with one or a few
    # outputs is all or nothing (one real digit repeated may sit just outside every k-NN ball),
    # while the median distance to the nearest training sample, against new real data's, grades.
    dist = (m.get("memorization") or {}).get("distance_ratio")
    score = min(_log_ratio(th["precision_share"] * prr, pr),
                _log_ratio(fid, th["fid_factor"] * max(fidr, 1e-9)),
                _log_ratio(dist, th["distance_factor"]) if dist is not None else math.inf)
    return score, (f"precision {pr:.2f} (real data: {prr:.2f}), FID {_f(fid)} (real data: "
                   f"{_f(fidr)}), samples {_f(dist, 2)}x as far from the training set as new real "
                   "data"), \
        {"precision": {"generated": pr, "real_reference": prr},
         "fid": {"generated": fid, "real_reference": fidr},
         "nn_distance_ratio": {"generated": dist, "real_reference": 1.0,
                               "threshold": th["distance_factor"]},
         "density": {"generated": m["density"], "real_reference": p["density"]}}


def _mostly_off(m: dict, p: dict, th: dict) -> bool:
    """Most samples off the data manifold: noise, not a few realistic outputs repeated."""
    if "mixture" in m and "mixture" in p:
        return m["mixture"]["high_quality"] < th["off_manifold_share"] * p["mixture"]["high_quality"]
    return m["precision"] < th["off_manifold_share"] * p["precision"]


def _partial(m: dict, p: dict, th: dict) -> tuple:
    mm, pm = m["modes"], p["modes"]
    if "mixture" in m and "mixture" in p:
        got, want = m["mixture"]["modes_captured"], p["mixture"]["modes_captured"]
        tol = 1
    else:
        got, want = mm["modes_hit"], pm["modes_hit"]
        tol = max(1, math.ceil(th["missing_share"] * want))
    ev = {"modes_hit": {"generated": got, "real_reference": want, "of": mm["n_modes"],
                        "tolerance": tol},
          "kl": {"generated": mm["kl"], "real_reference": pm["kl"]},
          "ndb_k": {"generated": mm["ndb_k"], "real_reference": pm["ndb_k"],
                    "bins": mm.get("ndb_bins")}}
    advice = ["Missing modes usually stay missing: add diversity pressure (minibatch "
              "discrimination, PacGAN packing, unrolled D) or lower the learning rates.",
              "Check the training data's balance; a mode rare in the data is easy to drop."]
    # Missing modes: (want - got) / tol >= 1 fires; half a tolerance is the log-scale zero.
    s_miss = _log_ratio(want - got + 0.5, tol) if want - got > 0 else -math.inf
    s_uneven = min(_log_ratio(mm["kl"] - pm["kl"], th["kl_excess"]),
                   _log_ratio(mm["ndb_k"] - pm["ndb_k"], th["ndb_excess"]))
    score = max(s_miss, s_uneven)
    nj = m.get("n")
    if want - got >= tol:
        return score, [_flag("partial_collapse", "fail", f"{_f(want - got)} of the modes real data "
                             f"reaches at n={nj} are missing: {_f(got)} of {mm['n_modes']} hit (real "
                             f"data: {_f(want)}).", ev, advice, max(s_miss, 0.0))]
    if s_uneven > 0:
        return score, [_flag("partial_collapse", "warn", f"Modes are unevenly covered: KL to the "
                             f"data's mode histogram {mm['kl']:.2f} (real data: {pm['kl']:.2f}), "
                             f"NDB/K {mm['ndb_k']:.2f} over {mm.get('ndb_bins')} bins (real data: "
                             f"{pm['ndb_k']:.2f}).", ev, advice, s_uneven)]
    return score, []


def context_from(extra: dict | None, context: dict | None) -> dict:
    """What the tool measured about the generator (latent shape, loss, learning rates).

    ``context`` wins; otherwise the latent shape is read from the loader's description line
    ("...; latent (N, 100, 1, 1) ..."), which states the shape the generator was sampled with.
    """
    ctx = dict(context or {})
    if "latent_shape" not in ctx and extra and isinstance(extra.get("loading"), str):
        mt = re.search(r"latent \(N, ([0-9, ]+)\)", extra["loading"])
        if mt:
            ctx["latent_shape"] = [int(v) for v in mt.group(1).split(",") if v.strip()]
    return ctx


def judge(measured: dict | None, panel: dict, profile: dict | None, range_info: dict | None,
          nonfinite: float, *, thresholds: dict | None = None, context: dict | None = None) -> dict:
    """Apply every rule; returns {"flags", "scores", "headline_codes", "n"} (no metrics map).

    thresholds: rule parameters (default: the fitted THRESHOLDS), so the suite can refit them
    on stored measurements without measuring again. scores: each rule's score (log units past
    its threshold; positive = fired), which the calibration reads.
    """
    th = {**THRESHOLDS, **(thresholds or {})}
    ctx = context or {}
    flags = _diverged(nonfinite) + _range(range_info)
    scores = {"diverged": 1.0 if nonfinite > 0 else -math.inf,
              "range_mismatch": flags[-1].evidence["score"] if range_info and range_info.get("mismatch")
              else -math.inf}
    both = False
    if measured is not None:
        full, m = measured["full"], measured["matched"]
        s_nc, nc_why, nc_ev = _not_converged(m, panel, th)
        off = s_nc > 0 and _mostly_off(m, panel, th)
        s_col, why, col_ev = _collapse(m, panel, profile, off, th)
        s_mem, mem = _memorization(m if "memorization" in m else full, th)
        s_part, part = _partial(m, panel, th)
        scores.update({"not_converged": s_nc, "mode_collapse": s_col, "memorization": s_mem,
                       "partial_collapse": s_part})
        both = s_col > 0 and s_nc > 0
        if s_col > 0:
            spread = (profile or {}).get("spread")
            if both:
                summary = ("Collapsed and unlike the data, a generator that never learned: "
                           + "; ".join(why) + "; and " + nc_why + ".")
                advice = _never_learned_advice(ctx, spread)
                col_ev["not_converged"] = nc_ev
            else:
                summary = "Mode collapse: " + "; ".join(why) + "."
                advice = _collapse_advice(ctx)
            flags.append(_flag("mode_collapse", "fail", summary, col_ev, advice, s_col))
        flags += mem
        if s_nc > 0:
            flags.append(_flag("not_converged", "fail", f"Outputs unlike the data: {nc_why}.", nc_ev, [
                "Train longer, and check the losses: a D stuck at 0.5 (losses at ln 2) gives G no "
                "signal.",
                "Check the data pipeline and the generator's output activation against the data "
                "range."], s_nc))
        if both:
            # Modes missing from a generator that never learned follow from that; diversity
            # advice would send the user the wrong way.
            for f in part:
                f.advice = ["These modes are missing because the generator never learned (see "
                            "mode_collapse above): fix the training first, then look again."]
        flags += part
    return {"flags": flags, "scores": scores, "both": both}


def headline(code: str, both: bool, matched: dict | None, panel: dict) -> str:
    """One line naming what the samples show and the n they were judged at (a verdict merged
    with other evidence, e.g. the D probe, may be headed by another code; this line stays about
    the samples)."""
    what = {"mode_collapse": "few distinct outputs", "not_converged": "outputs unlike the data",
            "partial_collapse": "modes missing", "memorization": "copies of training data",
            "range_mismatch": "outputs on another scale than the data",
            "diverged": "NaN/inf outputs", "healthy": "within the range of held-out real data"}
    text = ("samples: mode_collapse + not_converged, collapsed and unlike the data (a generator "
            "that never learned)" if both and code == "mode_collapse"
            else f"samples: {code}, {what.get(code, code)}")
    if matched:
        blocks = matched.get("blocks", 1)
        text += (f"; judged at n={matched['n']:,} against {panel.get('n', matched['n']):,} held-out "
                 f"real samples" + (f" (mean of {blocks} blocks of the {matched.get('n_total', 0):,} "
                                    "drawn)" if blocks > 1 else ""))
    return text


def metrics_map(full: dict, panel: dict, prof: dict | None, features: str) -> dict:
    """The verdict's ``metrics`` map: each value with its extractor, n and the real reference."""
    n = full["n"]
    e = lambda v, ref=None, **kw: metric_entry(v, features, n, reference=ref, **kw)  # noqa: E731
    out = {"fid": e(full["fid"], panel.get("fid"), reference_n=panel["n"]),
           "precision": e(full["precision"], panel.get("precision")),
           "recall": e(full["recall"], panel.get("recall")),
           "density": e(full["density"], panel.get("density")),
           "coverage": e(full["coverage"], panel.get("coverage"))}
    if "kid" in full:
        out["kid"] = e(full["kid"], panel.get("kid"))
    if "inception_score" in full:
        out["inception_score"] = e(full["inception_score"], panel.get("inception_score"))
    d, mz, mm = full["duplicates"], full["memorization"], full["modes"]
    out["duplicate_rate"] = e(d["duplicate_rate"], panel["duplicates"]["duplicate_rate"])
    out["support_estimate"] = e(d["support_estimate"], panel["duplicates"]["support_estimate"])
    out["copy_share"] = e(mz["copy_share"], mz["reference_copy_share"])
    out["nn_distance_ratio"] = e(mz["distance_ratio"], 1.0)
    out["modes"] = e(mm["modes_hit"], panel["modes"]["modes_hit"], of=mm["n_modes"])
    out["mode_kl"] = e(mm["kl"], panel["modes"]["kl"])
    out["ndb_k"] = e(mm["ndb_k"], panel["modes"]["ndb_k"])
    out["effective_modes"] = e(mm["effective_modes"], panel["modes"]["effective_modes"])
    if prof:
        out["latent_spread"] = e(prof.get("spread"), 1.0)
        out["latent_spearman"] = e(prof.get("spearman"), None)
    if "mixture" in full:
        out["modes_captured"] = e(full["mixture"]["modes_captured"],
                                  panel.get("mixture", {}).get("modes_captured"),
                                  of=full["mixture"]["n_modes"])
        out["high_quality"] = e(full["mixture"]["high_quality"],
                                panel.get("mixture", {}).get("high_quality"))
    return out


def verdict_from(*, subject: str, measured: dict | None, reference: dict, profile: dict | None,
                 range_info: dict | None, nonfinite: float, features: str,
                 extra: dict | None = None, context: dict | None = None,
                 thresholds: dict | None = None) -> dict:
    """Apply every rule and build the verdict dict (the schema of diagnose.core.verdict) with the evidence.

    context: what is known about the generator's training (latent_shape, loss, lr_g, lr_d), so
    advice fits it; the latent shape is otherwise read from ``extra["loading"]``.
    The verdict adds ``headline`` (the cause, with the n it was judged at), ``judged`` (that n)
    and ``scores`` (each rule's distance past its threshold).
    """
    panel = reference["panel"]
    ctx = context_from(extra, context)
    j = judge(measured, panel, profile, range_info, nonfinite, thresholds=thresholds, context=ctx)
    flags = j["flags"]
    metrics = metrics_map(measured["full"], panel, profile, features) if measured else {}
    ref_out = {k: v for k, v in panel.items()}
    ref_out["features"] = features
    deciding = [f for f in flags if f.severity in ("warn", "fail")]
    matched = measured["matched"] if measured else None
    more = {}
    if not deciding:
        # Healthy: how far the closest rule is from firing decides how sure we are.
        closest = max(j["scores"].values()) if j["scores"] else -math.inf
        more["confidence"] = calibration.confidence("healthy", -closest)
    out = make_verdict(subject, flags, metrics, reference=ref_out,
                       matched=_strip(matched) if matched else None,
                       latent=profile, range=range_info, nonfinite_share=nonfinite,
                       **(extra or {}), **more)
    out["headline"] = headline(out["verdict"], j["both"] and out["verdict"] == "mode_collapse",
                               matched, panel)
    out["judged"] = ({"n": matched["n"], "blocks": matched.get("blocks", 1),
                      "n_total": matched.get("n_total", matched["n"]), "reference_n": panel.get("n")}
                     if matched else None)
    out["scores"] = {k: (v if math.isfinite(v) else None) for k, v in j["scores"].items()}
    if ctx:
        out["context"] = ctx
    return out


def _strip(d: dict) -> dict:
    """Drop bulky per-bin lists from a metrics dict for the JSON output."""
    return {k: ({k2: v2 for k2, v2 in v.items() if k2 not in ("histogram", "hq_counts")}
                if isinstance(v, dict) else v) for k, v in d.items()}
