"""Verdict rules: metrics of a generator, compared with the same metrics of held-out real data.

Every threshold is relative to the reference panel (held-out real data against the training set,
at the same n), e.g. "precision below half of what new real digits get", "more modes missing than
real data misses at this n". Each flag carries the generated number, the real number and the rule
that fired, plus advice. The rules, in the order of DESIGN.md's codes:

diverged          any generated sample has NaN/inf
range_mismatch    raw output range differs from the data's range (report 003)
mode_collapse     few distinct outputs: near-duplicates far above real data and a tiny birthday
                  support, or the effective number of modes under a fifth of real data's, or
                  outputs that do not move when the latent does
memorization      near-copies of training samples far more common than for held-out real data
not_converged     outputs unlike the data: precision (or % high-quality points) under half of
                  real data's and FID several times real data's
partial_collapse  modes that real data reaches at this n are missing, or the mode histogram is
                  far from the reference on both KL and NDB/K
"""
from __future__ import annotations

import math

from diagnose.verdict import Flag, make_verdict, metric_entry

#: Rule parameters, each relative to the real-data reference.
DUP_EXCESS = 0.5          # duplicate rate above real data's by this much (a share of samples)...
SUPPORT_SHARE = 0.25      # ...with a birthday support under this share of the samples checked
EFFECTIVE_MODES_SHARE = 0.2   # effective modes under this share of real data's
SPREAD_SHARE = 0.1        # output distance between independent latents under this share of real pairs'
COPY_FACTOR = 5.0         # near-copy share this many times real data's...
COPY_FLOOR = 0.1          # ...and at least this share of samples
PRECISION_SHARE = 0.5     # precision under this share of real data's...
FID_FACTOR = 3.0          # ...and FID this many times real data's
MISSING_SHARE = 0.05      # modes missing beyond this share of the modes real data hits
OFF_MANIFOLD_SHARE = 0.2  # not converged AND precision (or % high quality) under this share of real
                          # data's: mostly off the data manifold, so diversity measures say little
KL_EXCESS = 0.25          # KL above real data's by this many nats...
NDB_EXCESS = 0.3          # ...and NDB/K above real data's by this much


def _f(x, nd=3):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}g}"


def _diverged(nonfinite: float) -> list[Flag]:
    if nonfinite <= 0:
        return []
    return [Flag("diverged", "fail", f"{nonfinite:.1%} of generated samples contain NaN/inf "
                 "(real data: 0%).", {"nonfinite_share": nonfinite, "real_reference": 0.0},
                 advice=["Load an earlier checkpoint: the weights blew up during training.",
                         "Lower the learning rates or clip gradients; use BCEWithLogitsLoss "
                         "instead of Sigmoid + BCELoss to avoid log(0)."], confidence=0.95)]


def _range(rng: dict | None) -> list[Flag]:
    if not rng or not rng.get("mismatch"):
        return []
    lo, hi = rng["raw_range"]
    dlo, dhi = rng["data_range"]
    return [Flag("range_mismatch", "fail", f"Generator outputs span [{lo:.2g}, {hi:.2g}] but the "
                 f"real data is in [{dlo:g}, {dhi:g}]: D can tell real from fake by scale alone.",
                 dict(rng), advice=[
                     f"Scale real images to the generator's range: for a Tanh output use "
                     "Normalize((0.5,), (0.5,)) after ToTensor so data lies in [-1, 1].",
                     "Or change G's last activation to match the data (Sigmoid for [0, 1])."],
                 confidence=0.9)]


def _collapse(m: dict, p: dict, prof: dict | None, off_manifold: bool) -> list[Flag]:
    d, dr = m["duplicates"], p["duplicates"]
    why, ev = [], {}
    excess = d["duplicate_rate"] - dr["duplicate_rate"]
    if excess > DUP_EXCESS and d["support_estimate"] < SUPPORT_SHARE * d["n"]:
        why.append(f"{d['duplicate_rate']:.0%} of samples have a near-duplicate (real data: "
                   f"{dr['duplicate_rate']:.0%}), about {_f(d['support_estimate'])} distinct outputs")
    ev["duplicates"] = {"generated": {k: d[k] for k in ("duplicate_rate", "support_estimate",
                                                         "distinct_outputs", "n")},
                        "real_reference": {k: dr[k] for k in ("duplicate_rate", "support_estimate",
                                                              "distinct_outputs", "n")}}
    eg, er = m["modes"]["effective_modes"], p["modes"]["effective_modes"]
    ev["effective_modes"] = {"generated": eg, "real_reference": er,
                             "threshold": EFFECTIVE_MODES_SHARE * er}
    spread = prof.get("spread") if prof else None
    ev["latent_spread"] = {"generated": spread, "real_reference": 1.0, "threshold": SPREAD_SHARE}
    # Mostly off the data manifold, feature-space diversity says little (noise maps to one region),
    # so only the duplicate count, a direct observation, may call collapse there. A generator with
    # some realistic samples (precision above OFF_MANIFOLD_SHARE of real data's) is judged on them.
    if not off_manifold:
        if eg < EFFECTIVE_MODES_SHARE * er:
            why.append(f"the samples amount to {eg:.2g} equally likely modes (real data: {er:.3g})")
        if spread is not None and spread < SPREAD_SHARE:
            why.append(f"independent latents give outputs {spread:.2g}x as far apart as two real "
                       "samples")
    if not why:
        return []
    return [Flag("mode_collapse", "fail", "Mode collapse: " + "; ".join(why) + ".", ev, advice=[
        "Balance D and G (equal learning rates first; report 000's 200x smaller D rate starves G).",
        "Feed the noise as a vector through a projection rather than as a spatial map (report 001).",
        "Try minibatch discrimination / PacGAN-style packing, or a non-saturating or WGAN-GP loss.",
        "Look at earlier checkpoints: collapse often begins at a visible step in the sample grids."],
        confidence=min(0.95, 0.6 + 0.15 * len(why)))]


def _memorization(full: dict, p: dict) -> list[Flag]:
    mz = full["memorization"]
    share, ref = mz["copy_share"], mz["reference_copy_share"]
    if share < max(COPY_FLOOR, COPY_FACTOR * ref):
        return []
    return [Flag("memorization", "fail", f"{share:.0%} of samples are near-copies of training "
                 f"samples (held-out real data: {ref:.0%}); median distance to the training set "
                 f"is {mz['distance_ratio']:.2g}x that of new real data.",
                 {"generated": mz, "real_reference": {"copy_share": ref, "distance_ratio": 1.0}},
                 advice=["Train on more data or with augmentation (DiffAugment/ADA), or stop earlier.",
                         "Weaken D (dropout, smaller D, lower D learning rate): a D that memorizes "
                         "the training set teaches G to copy it."], confidence=0.9)]


def _not_converged(m: dict, p: dict) -> list[Flag]:
    if "mixture" in m and "mixture" in p:
        hq, hr = m["mixture"]["high_quality"], p["mixture"]["high_quality"]
        if hq < PRECISION_SHARE * hr:
            return [_nc_flag(f"only {hq:.0%} of points lie within 3 std of a mode (real data: "
                             f"{hr:.0%})", {"high_quality": {"generated": hq, "real_reference": hr}})]
        return []
    pr, prr = m["precision"], p["precision"]
    fid, fidr = m["fid"], p["fid"]
    if pr < PRECISION_SHARE * prr and fid > FID_FACTOR * max(fidr, 1e-9):
        return [_nc_flag(f"precision {pr:.2f} (real data: {prr:.2f}) and FID {_f(fid)} "
                         f"(real data: {_f(fidr)})",
                         {"precision": {"generated": pr, "real_reference": prr},
                          "fid": {"generated": fid, "real_reference": fidr},
                          "density": {"generated": m["density"], "real_reference": p["density"]}})]
    return []


def _mostly_off(m: dict, p: dict) -> bool:
    """Most samples off the data manifold: noise, not a few realistic outputs repeated."""
    if "mixture" in m and "mixture" in p:
        return m["mixture"]["high_quality"] < OFF_MANIFOLD_SHARE * p["mixture"]["high_quality"]
    return m["precision"] < OFF_MANIFOLD_SHARE * p["precision"]


def _nc_flag(why: str, ev: dict) -> Flag:
    return Flag("not_converged", "fail", f"Outputs unlike the data: {why}.", ev, advice=[
        "Train longer, and check the losses: a D stuck at 0.5 (losses at ln 2) gives G no signal.",
        "Check the data pipeline and the generator's output activation against the data range."],
        confidence=0.85)


def _partial(m: dict, p: dict) -> list[Flag]:
    mm, pm = m["modes"], p["modes"]
    if "mixture" in m and "mixture" in p:
        got, want = m["mixture"]["modes_captured"], p["mixture"]["modes_captured"]
        tol = 1
    else:
        got, want = mm["modes_hit"], pm["modes_hit"]
        tol = max(1, math.ceil(MISSING_SHARE * want))
    ev = {"modes_hit": {"generated": got, "real_reference": want, "of": mm["n_modes"],
                        "tolerance": tol},
          "kl": {"generated": mm["kl"], "real_reference": pm["kl"]},
          "ndb_k": {"generated": mm["ndb_k"], "real_reference": pm["ndb_k"]}}
    advice = ["Missing modes usually stay missing: add diversity pressure (minibatch "
              "discrimination, PacGAN packing, unrolled D) or lower the learning rates.",
              "Check the training data's balance; a mode rare in the data is easy to drop."]
    if want - got >= tol:
        return [Flag("partial_collapse", "fail", f"{want - got} of the modes real data reaches at "
                     f"n={m['n']} are missing: {got} of {mm['n_modes']} hit (real data: {want}).",
                     ev, advice=advice, confidence=0.85)]
    if mm["kl"] > pm["kl"] + KL_EXCESS and mm["ndb_k"] > pm["ndb_k"] + NDB_EXCESS:
        return [Flag("partial_collapse", "warn", f"Modes are unevenly covered: KL to the data's "
                     f"mode histogram {mm['kl']:.2f} (real data: {pm['kl']:.2f}), NDB/K "
                     f"{mm['ndb_k']:.2f} (real data: {pm['ndb_k']:.2f}).", ev, advice=advice,
                     confidence=0.7)]
    return []


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
                 extra: dict | None = None) -> dict:
    """Apply every rule and build the verdict dict (DESIGN.md schema) with the evidence."""
    panel = reference["panel"]
    flags = _diverged(nonfinite) + _range(range_info)
    metrics = {}
    if measured is not None:
        full, m = measured["full"], measured["matched"]
        nc = _not_converged(m, panel)
        flags += _collapse(m, panel, profile, off_manifold=bool(nc) and _mostly_off(m, panel))
        flags += _memorization(full, panel) + nc + _partial(m, panel)
        metrics = metrics_map(full, panel, profile, features)
    ref_out = {k: v for k, v in panel.items()}
    ref_out["features"] = features
    return make_verdict(subject, flags, metrics, reference=ref_out,
                        matched=_strip(measured["matched"]) if measured else None,
                        latent=profile, range=range_info, nonfinite_share=nonfinite,
                        **(extra or {}))


def _strip(d: dict) -> dict:
    """Drop bulky per-bin lists from a metrics dict for the JSON output."""
    return {k: ({k2: v2 for k2, v2 in v.items() if k2 not in ("histogram", "hq_counts")}
                if isinstance(v, dict) else v) for k, v in d.items()}
