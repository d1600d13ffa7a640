"""Training-dynamics detectors: ``detect(table) -> list[Flag]``.

One function per verdict code, registered in ``DETECTORS`` (a registry that refuses duplicates).
Each reads a :class:`diagnose.dynamics.context.Context` (rows with a signal, smoothed series, the
inferred loss convention) and returns a Flag or None. When none fires, ``detect`` returns one
``healthy`` info flag that says how much evidence it had.
"""
from __future__ import annotations

import math

import numpy as np

from diagnose.dynamics.context import DEFAULT, LN2_UNITS, Context, Thresholds, longest_run, \
    min_stretch
from diagnose.dynamics.conventions import LN2
from diagnose.dynamics.table import Table
from diagnose.core.registry import Registry
from diagnose.core.verdict import Flag

#: verdict code -> detector (Context -> Flag | None); a second detector for a code is refused
DETECTORS = Registry("detector")
register = DETECTORS.register      # @register("code") adds a detector under its verdict code


def _r(x) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 5)


# -ln of the smallest probability common BCE implementations allow, per term: PyTorch's BCELoss
# clamps log at -100; Keras/TF clip at 1e-7 (16.118), float32 epsilon (15.942), 1e-6 (13.816),
# 1e-12 (27.631). A loss pinned at one of these (or the mean/sum of two terms, one pinned) is a
# saturated sigmoid: D outputs exactly 0 or 1 and no gradient flows.
_CLAMPS = (100.0, 16.118095, 15.942385, 13.815511, 27.631021)
_CLAMP_MULTIPLES = (0.5, 1.0, 2.0)


def _clamp_value(v: float) -> float | None:
    """The clamp (or mean/sum of clamped terms) ``v`` equals to printing precision, else None."""
    for cl in _CLAMPS:
        for m in _CLAMP_MULTIPLES:
            target = cl * m
            if abs(abs(v) - target) <= 1e-3 * target:
                return target
    return None


def _frozen(c: Context, name: str) -> tuple[int, int, int, float] | None:
    """(first row, last row, rows, value) of the longest stretch over which a series did not move
    at all (identical printed values), when it is long enough to call frozen."""
    v = c.raw.get(name)
    if v is None or v.size < 2:
        return None
    same = np.zeros(v.size, bool)
    same[1:] = (v[1:] == v[:-1]) & np.isfinite(v[1:])
    a, b, length = longest_run(same)
    rows = length + 1 if length else 0
    if rows < max(c.th.frozen_rows, math.ceil(c.th.frozen_frac * c.n)):
        return None
    return a - 1, b, rows, float(v[b])


@register("diverged")
def diverged(c: Context) -> Flag | None:
    """NaN/inf in a loss or D output (a warning only when the run recovered for good); a loss
    pinned at a BCE clamp (a saturated Sigmoid, dead training); D's outputs frozen at exactly 0 or
    1; |value| exploding to ``explode_ratio`` x its early level, or staying above ``blowup_abs``
    (no BCE/hinge/least-squares loss gets there, nor a critic held by its gradient penalty)."""
    th = c.th
    bad_rows = np.zeros(c.n, bool)
    which = []
    for name, mask in c.nonfinite.items():
        if mask.any():
            bad_rows |= mask
            which.append(name)
    if bad_rows.any():
        idx = np.flatnonzero(bad_rows)
        after = c.n - 1 - int(idx[-1])
        # a transient: a few non-finite rows, then at least half the log finite again
        recovered = idx.size <= max(1, 0.05 * c.n) and after >= max(20, 0.5 * c.n)
        sev = "warn" if recovered else "fail"
        what = (f"non-finite values (NaN/inf) in {', '.join(sorted(which))} from step "
                f"{int(c.steps[idx[0]])}")
        if recovered:
            what += f", then {after} finite rows: the run recovered (a transient, e.g. AMP overflow)"
        return c.flag("diverged", sev, what, {"nonfinite_rows": int(idx.size),
                                              "series": sorted(which), "recovered": recovered},
                      int(idx[0]), int(idx[-1]), 0.95)
    d_near_zero = False
    if "d_loss" in c.raw:
        dv = c.raw["d_loss"][np.isfinite(c.raw["d_loss"])]
        d_near_zero = bool(dv.size) and float(np.median(np.abs(dv[-max(2, dv.size // 5):]))) < th.near_zero_d
    for name in ("d_loss", "g_loss"):
        fr = _frozen(c, name)
        if fr is None or c.family == "wgan":
            continue
        a, b, rows, val = fr
        clamp = _clamp_value(val)
        if clamp is None or (name == "g_loss" and d_near_zero):
            continue                      # G at the clamp beside D ~0 is D winning (d_overpowering)
        return c.flag("diverged", "fail",
                      f"{name} is pinned at {val:g} for {rows} rows: {clamp:g} is a binary "
                      "cross-entropy clamp of -log(0) (-log of the smallest probability the loss "
                      "allows: 100 per term in BCELoss, 15.9-27.6 in Keras/TF, or the mean/sum of "
                      "two terms), so D's Sigmoid outputs exactly 0 or 1 and no gradient flows: "
                      "training has stopped", {"series": name, "value": _r(val), "clamp": _r(clamp),
                                      "frozen_rows": rows, "bce_clamp": True}, a, b, 0.9)
    fz = {n: _frozen(c, n) for n in ("d_real", "d_fake")}
    # D(x) frozen at 0, D(G(z)) at 1, or both at the same 0/1: a saturated D that is wrong or
    # blind (D(x) = 1 with D(G(z)) = 0 is D winning: d_overpowering's business)
    sat = [n for n, fr in fz.items() if fr is not None and fr[3] == (0.0 if n == "d_real" else 1.0)]
    if fz["d_real"] and fz["d_fake"] and fz["d_real"][3] == fz["d_fake"][3] in (0.0, 1.0):
        sat = ["d_real", "d_fake"]
    if sat:
        fr = _frozen(c, sat[0])
        return c.flag("diverged", "fail",
                      f"{', '.join(sat)} frozen at exactly {fr[3]:g} for {fr[2]} rows: D's output is "
                      "saturated and no gradient flows", {"series": sat, "value": fr[3],
                                                          "frozen_rows": fr[2]}, fr[0], fr[1], 0.85)
    for name in ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g"):
        v = c.raw.get(name)
        if v is None:
            continue
        fin = np.abs(v[np.isfinite(v)])
        if not fin.size:
            continue
        tail = fin[-max(2, fin.size // 5):] if fin.size > 2 else fin
        level = float(np.median(tail))
        if level >= th.blowup_abs:
            first = int(np.argmax(np.abs(np.nan_to_num(v)) >= th.blowup_abs))
            return c.flag("diverged", "fail",
                          f"{name} reached |{level:.4g}| and stays there: no {c.family} loss gets "
                          "this large in a working run (the losses blew up without a NaN)",
                          {"series": name, "tail_median_abs": _r(level), "max_abs": _r(float(fin.max())),
                           "family": c.family, "bce_clamp": False}, first, c.n - 1, 0.85)
    for name in ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g"):
        v = c.s.get(name)
        if v is None or c.n < 6:
            continue
        early = float(np.median(np.abs(v[: max(3, c.n // 10)])))
        tail = np.abs(v[-max(2, c.n // 20):])
        big = (np.abs(v) > th.explode_abs) & (np.abs(v) > th.explode_ratio * max(early, 1e-3))
        if big.any() and (tail > th.explode_abs).all():
            a = int(np.argmax(big))
            return c.flag("diverged", "fail",
                          f"{name} exploded from ~{early:.3g} to {float(tail[-1]):.3g}",
                          {"series": name, "early_median": _r(early), "last": _r(float(tail[-1])),
                           "bce_clamp": False},
                          a, c.n - 1, 0.85)
    return None


@register("inconsistent_losses")
def inconsistent_losses(c: Context) -> Flag | None:
    """Both losses near zero at once: impossible against one D, so the logs or D's inputs are wrong.

    D loss <= x means D(G(z)) <= 1 - exp(-2x) even when the loss is the mean of the two terms;
    G loss <= y means D(G(z)) >= exp(-2y) even with a factor 0.5. With x = y = 0.1 that asks
    D(G(z)) <= 0.18 and >= 0.82 on the same batches.
    """
    d, g = c.s.get("d_loss"), c.s.get("g_loss")
    if d is None or g is None or c.family not in ("bce", "relativistic"):
        return None
    th = c.th
    scale = max(1.0, (c.conv.get("d_multiple") or 1.0) / 2)
    mask = (d >= 0) & (d < th.near_zero_both * scale) & (g >= 0) & (g < th.near_zero_both)
    # both exactly 0 on every row: placeholders of players not being trained yet (a schedule that
    # trains another part first), not two measured near-zero losses
    rd, rg = c.raw["d_loss"], c.raw["g_loss"]
    mask &= ~((rd == 0) & (rg == 0))
    gap = _logit_gap(c)
    if gap is not None:
        # D's own outputs are the arbiter: where they sit far apart, D does tell the fakes from
        # the reals, so a small G term is a weighted one (G's loss times its weight), not a D
        # that the fakes fool
        mask &= ~(gap > th.logit_gap)
    a, b, length = longest_run(mask)
    if length < min_stretch(c.n, 0.1, floor=2):
        return None
    dm, gm = c.med("d_loss", a, b), c.med("g_loss", a, b)
    ev = {"d_loss_median": dm, "g_loss_median": gm,
          "d_fake_upper_bound_from_d_loss": _r(1 - math.exp(-2 * dm)),
          "d_fake_lower_bound_from_g_loss": _r(math.exp(-2 * gm))}
    sev, note = "fail", ""
    if c.g_beside_terms and gap is None:
        # the G term sits beside auxiliary terms and may be printed times a small weight: its
        # size proves nothing about D(G(z)) without D's outputs, so a warning only
        sev = "warn"
        ev["g_loss_beside_terms"] = c.g_beside_terms
        note = (f" (unless G's adversarial term is printed times its weight: it is logged beside "
                f"{', '.join(c.g_beside_terms)})")
    return c.flag(
        "inconsistent_losses", sev,
        f"D loss ({dm:.3g}) and G loss ({gm:.3g}) are both near zero at once: one discriminator "
        f"cannot be right about reals and fakes and fooled by the fakes together{note}",
        ev, a, b, 0.9)


def _logit_gap(c: Context) -> np.ndarray | None:
    """D's raw output on reals minus its raw output on fakes (smoothed), when both are logged."""
    r, f = c.s.get("d_real_logit"), c.s.get("d_fake_logit")
    return None if r is None or f is None else r - f


@register("d_not_learning")
def d_not_learning(c: Context) -> Flag | None:
    """D at chance for long, by either of two signatures (the longer stretch wins):

    - losses pinned at multiples of ln 2 (and D(x), D(G(z)) ~ 0.5 when logged), flat;
    - D(x) frozen near 0.5 from the start of the log with almost no batch-to-batch noise while
      D(G(z)) is at or above 0.5: D's weights do not move and G fools the untrained D (what a
      learning rate far below G's gives).
    """
    found = [f for f in (_chance_losses(c), _frozen_d(c), _frozen_d_loss(c)) if f is not None]
    if not found:
        return None
    flag = max(found, key=lambda f: f.evidence["stretch_rows"])
    ratio = _lr_ratio(c)
    if ratio is not None:
        flag.evidence["lr_d_over_lr_g"] = ratio
        if ratio <= 0.05:
            flag.summary += f"; lr_d is {1 / ratio:.0f}x smaller than lr_g"
    return flag


def _lr_ratio(c: Context) -> float | None:
    if "lr_d" not in c.raw or "lr_g" not in c.raw:
        return None
    lr_d, lr_g = (float(np.nanmedian(c.raw[k])) for k in ("lr_d", "lr_g"))
    return float(f"{lr_d / lr_g:.4g}") if lr_d > 0 and lr_g > 0 else None


def _frozen_d_loss(c: Context) -> Flag | None:
    """D's loss identical, to its printed digits, for a long stretch (warm-up or not: a D at
    initialisation still moves from batch to batch), at a value that is neither ~0 (D winning)
    nor a BCE clamp (diverged): D's weights are not moving."""
    fr = _frozen(c, "d_loss")
    if fr is None:
        return None
    a, b, rows, val = fr
    if abs(val) < c.th.near_zero_d or _clamp_value(val) is not None:
        return None
    # a value printed with two digits ("1.2") repeats by chance in a steady run; only a long
    # stretch of it counts, while a value with more digits repeating is a frozen network
    digits = len(f"{abs(val):.6g}".replace(".", "").strip("0"))
    if digits < 3 and rows < 4 * c.th.frozen_rows:
        return None
    g = _frozen(c, "g_loss")
    frac = rows / c.n
    return c.flag("d_not_learning", "fail" if frac >= 0.6 else "warn",
                  f"D's loss did not move from {val:g} for {rows} rows ({frac:.0%} of the log)"
                  + (f", nor G's from {g[3]:g}" if g else "") + ": the discriminator is not learning",
                  {"signature": "frozen D loss", "value": _r(val), "frozen_rows": rows,
                   "g_loss_frozen": g is not None}, a, b, 0.8)


def _chance_losses(c: Context) -> Flag | None:
    th = c.th
    d, g, dr, df = (c.s.get(k) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    if d is None and dr is None:
        return None
    if c.family not in ("bce", "relativistic"):
        d = g = None                      # ln 2 is BCE's chance level, not this family's
        if dr is None:
            return None
    mask = np.ones(c.n, bool)
    mask[:c.warm] = False                 # D at chance at initialisation is normal
    m_best = k_best = None
    if d is not None:
        best = max(LN2_UNITS["d"], key=lambda m: longest_run(np.abs(d / (m * LN2) - 1)
                                                             < th.chance_rel_tol)[2])
        m_best = best
        mask &= np.abs(d / (best * LN2) - 1) < th.chance_rel_tol
    if g is not None:
        k_best = max(LN2_UNITS["g"], key=lambda k: longest_run(np.abs(g / (k * LN2) - 1)
                                                               < th.chance_rel_tol)[2])
        mask &= np.abs(g / (k_best * LN2) - 1) < th.chance_rel_tol
    if dr is not None:
        mask &= np.abs(dr - 0.5) < th.chance_prob_tol
    if df is not None and not c.inferred_fake:
        mask &= np.abs(df - 0.5) < th.chance_prob_tol
    a, b, length = longest_run(mask)
    if length < min_stretch(c.n - c.warm, th.persist_frac) or length == 0:
        return None
    flat = {}
    if length >= 3:
        for name in ("d_loss", "g_loss"):
            v = c.raw.get(name)
            if v is None:
                continue
            v = v[a:b + 1][np.isfinite(v[a:b + 1])]
            rel = float(np.std(v) / max(abs(np.mean(v)), 1e-9)) if v.size else 0.0
            flat[f"{name}_rel_std"] = round(rel, 4)
            if rel > th.flat_rel_std:
                return None                                   # noisy around chance: D is learning
    ev = {"signature": "losses at chance", "d_loss_median": c.med("d_loss", a, b),
          "g_loss_median": c.med("g_loss", a, b), "d_real_median": c.med("d_real", a, b),
          "d_fake_median": c.med("d_fake", a, b), **flat}
    parts = []
    if m_best is not None:
        ev["d_loss_in_ln2"] = m_best
        parts.append(f"D loss ~{ev['d_loss_median']:.3g} = {m_best:g} ln 2")
        ev["convention"] = {1.0: "mean of real and fake terms", 2.0: "sum of real and fake terms",
                            4.0: "sum of the terms times 2"}[m_best]
    if k_best is not None:
        ev["g_loss_in_ln2"] = k_best
        parts.append(f"G loss ~{ev['g_loss_median']:.3g} = {k_best:g} ln 2")
    if dr is not None:
        parts.append(f"D(x) ~{ev['d_real_median']:.2f}")
    frac = length / c.n
    return c.flag("d_not_learning", "fail" if frac >= 0.6 else "warn",
                  f"the discriminator sat at chance for {frac:.0%} of the log ({', '.join(parts)}"
                  f"{'; convention: ' + ev['convention'] if 'convention' in ev else ''})",
                  ev, a, b, 0.9)


def _frozen_d(c: Context) -> Flag | None:
    th = c.th
    dr, df = c.s.get("d_real"), c.s.get("d_fake")
    if dr is None or "d_real" not in c.raw:
        return None
    mask = np.abs(dr - 0.5) < th.chance_prob_tol
    if df is not None:
        mask &= (df > 0.5 - th.chance_prob_tol) & (dr - df < th.separation_margin)
    a, b, length = longest_run(mask)
    if length < max(4, min_stretch(c.n, th.persist_frac)) or a > max(1, c.n // 10):
        return None
    v = c.raw["d_real"][a:b + 1]
    v = v[np.isfinite(v)]
    noise = float(np.std(np.diff(v)) / math.sqrt(2)) if v.size > 2 else math.inf
    if noise >= th.frozen_noise:
        return None
    ev = {"signature": "D(x) frozen at chance", "d_real_median": c.med("d_real", a, b),
          "d_real_batch_noise": _r(noise), "d_fake_median": c.med("d_fake", a, b, True),
          "d_fake_inferred_from_g_loss": c.inferred_fake,
          "d_loss_median": c.med("d_loss", a, b), "g_loss_median": c.med("g_loss", a, b)}
    frac = length / c.n
    fake = (f" while D(G(z)) sat at ~{ev['d_fake_median']:.2f}"
            f"{' (inferred from the G loss)' if c.inferred_fake else ''}") if df is not None else ""
    return c.flag("d_not_learning", "fail" if frac >= 0.6 else "warn",
                  f"the discriminator never left chance: D(x) stayed at ~{ev['d_real_median']:.3f} "
                  f"(batch-to-batch noise {noise:.4f}) for {frac:.0%} of the log{fake}",
                  ev, a, b, 0.8)


@register("d_fooled")
def d_fooled(c: Context) -> Flag | None:
    """Mean D(G(z)) above mean D(x) for long; D(G(z)) inferred from the G loss when not logged."""
    th = c.th
    sure = _fooled_with_certainty(c)
    if sure is not None:
        return sure
    dr, df = c.s.get("d_real"), c.s.get("d_fake")
    if dr is None or df is None:
        return None
    diff = df - dr
    a, b, length = longest_run(diff > th.fooled_margin)
    if length < min_stretch(c.n, th.persist_frac):
        return None
    ev = {"d_real_median": c.med("d_real", a, b), "d_fake_median": c.med("d_fake", a, b, True),
          "margin_median": _r(float(np.median(diff[a:b + 1]))),
          "d_fake_inferred_from_g_loss": c.inferred_fake}
    how = ""
    if c.inferred_fake:
        ev["inference"] = (f"D(G(z)) = exp(-G loss / {c.conv['g_factor']:g}) (non-saturating G "
                           "loss; a geometric mean, so never above the true mean D(G(z)))")
        how = f" (D(G(z)) inferred from the G loss ~{c.med('g_loss', a, b):.3g})"
        d = c.raw.get("d_loss")
        if d is not None:
            terms = -math.log(max(ev["d_real_median"], 1e-9)) - math.log(max(1 - ev["d_fake_median"], 1e-9))
            ev["d_loss_check"] = {"d_loss_median": c.med("d_loss", a, b),
                                  "sum_of_terms_predicted": _r(terms)}
    frac = length / c.n
    sev = "fail" if frac >= 0.6 and ev["margin_median"] > 0.1 else "warn"
    return c.flag("d_fooled", sev,
                  f"D rated fakes above reals for {frac:.0%} of the log: D(G(z)) ~"
                  f"{ev['d_fake_median']:.2f} > D(x) ~{ev['d_real_median']:.2f}{how}",
                  ev, a, b, 0.75 if c.inferred_fake else 0.85)


def _fooled_with_certainty(c: Context) -> Flag | None:
    """G loss exactly ~0 (D(G(z)) ~ 1) beside a huge D loss: D calls every fake real with
    certainty and pays for it on the real batch; the adversarial game has stopped."""
    g, d = c.raw.get("g_loss"), c.raw.get("d_loss")
    if g is None or d is None or c.family not in ("bce", "relativistic"):
        return None
    mask = np.isfinite(g) & np.isfinite(d) & (np.abs(g) <= c.th.g_zero) & (d >= c.th.d_huge)
    a, b, length = longest_run(mask)
    if length < min_stretch(c.n, c.th.persist_frac):
        return None
    frac = length / c.n
    return c.flag("d_fooled", "fail" if frac >= 0.5 else "warn",
                  f"G's loss is ~0 (D(G(z)) ~ 1) while D's loss is ~{c.med('d_loss', a, b):.3g} for "
                  f"{frac:.0%} of the log: D rates every fake as real with certainty and nothing "
                  "learns", {"signature": "G loss 0 beside a huge D loss",
                             "g_loss_median": c.med("g_loss", a, b),
                             "d_loss_median": c.med("d_loss", a, b)}, a, b, 0.85)


@register("d_overpowering")
def d_overpowering(c: Context) -> Flag | None:
    """D wins: D loss -> 0 while the G loss is high or rising, or D(x) -> 1 with D(G(z)) -> 0."""
    th = c.th
    d, g, dr, df = (c.s.get(k) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    mask = np.zeros(c.n, bool)
    if c.family == "wgan":
        d = None                          # a critic's loss has no "near zero means D wins"
    if d is not None and g is not None:
        scale = max(1.0, (c.conv.get("d_multiple") or 1.0) / 2)
        early_g = float(np.median(g[: max(1, c.n // 5)]))
        g_bad = (g > th.overpower_g * c.conv["g_factor"]) | ((g > 2 * early_g) & (g > 0.5))
        mask |= (d >= 0) & (d < th.near_zero_d * scale) & g_bad
    if dr is not None and df is not None and not c.inferred_fake:
        mask |= (dr > 0.9) & (df < 0.1)
    gap = _logit_gap(c)
    if gap is not None and c.family != "wgan":
        # D's raw outputs on reals far above those on fakes (beside a D loss near zero when one
        # is logged): D separates them with certainty, whatever weight G's term is printed with
        sep = gap > th.logit_gap
        if d is not None:
            sep &= (d >= 0) & (d < th.near_zero_d * max(1.0, (c.conv.get("d_multiple") or 1.0) / 2))
        mask |= sep
    trend = _winning_trend(c, d, g)
    if trend is not None:
        mask |= trend
    a, b, length = longest_run(mask)
    if length < min_stretch(c.n, th.overpower_frac):
        return None
    ev = {"d_loss_median": c.med("d_loss", a, b), "g_loss_median": c.med("g_loss", a, b),
          "d_real_median": c.med("d_real", a, b), "d_fake_median": c.med("d_fake", a, b)}
    if gap is not None:
        ev["logit_gap_median"] = _r(float(np.median(gap[a:b + 1])))
    if trend is not None and trend[a:b + 1].all():
        ev["signature"] = "G loss climbing several-fold while D's loss falls"
    gn = c.s.get("grad_norm_g")
    if gn is not None:
        early = float(np.median(gn[: max(1, a)])) if a > 0 else float(gn[0])
        ev["grad_norm_g_median"] = c.med("grad_norm_g", a, b)
        ev["grad_norm_g_ratio_to_before"] = _r(ev["grad_norm_g_median"] / max(early, 1e-12))
    frac = length / c.n
    sev = "fail" if frac >= 0.5 or (ev["d_loss_median"] or 1) < 0.01 else "warn"
    what = []
    if ev["d_loss_median"] is not None:
        what.append(f"D loss ~{ev['d_loss_median']:.3g}")
    if ev["g_loss_median"] is not None:
        what.append(f"G loss ~{ev['g_loss_median']:.3g}")
    if ev["d_real_median"] is not None and ev["d_fake_median"] is not None:
        what.append(f"D(x) ~{ev['d_real_median']:.2f}, D(G(z)) ~{ev['d_fake_median']:.2f}")
    return c.flag("d_overpowering", sev,
                  f"the discriminator overpowered the generator for {frac:.0%} of the log "
                  f"({', '.join(what)}): G gets almost no gradient", ev, a, b, 0.85)


def _winning_trend(c: Context, d: np.ndarray | None, g: np.ndarray | None) -> np.ndarray | None:
    """Rows where G's (smoothed) loss has grown to ``trend_factor`` x its early level, and past
    D(G(z)) < 0.1, while D's loss has fallen below 1/``trend_factor`` of its own early level and
    below chance: D is pulling away from G (its win need not bring its loss near zero)."""
    th = c.th
    if d is None or g is None or c.family not in ("bce", "relativistic") or c.n < 10:
        return None
    k = max(1, c.n // 10)
    early_g, early_d = float(np.median(g[:k])), float(np.median(d[:k]))
    if early_g <= 0 or early_d <= 0:
        return None
    chance = (c.conv.get("d_multiple") or 1.0) * LN2
    return ((g >= th.trend_factor * early_g) & (g > th.overpower_g * c.conv["g_factor"])
            & (d >= 0) & (d <= early_d / th.trend_factor) & (d < chance))


@register("oscillation")
def oscillation(c: Context) -> Flag | None:
    """Sustained, large, periodic swings with no trend (autocorrelation peak at the period)."""
    th = c.th
    best = None
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        v = c.raw.get(name)
        if v is None or name == "d_fake" and c.inferred_fake:
            continue
        v = v[np.isfinite(v)]
        n = v.size
        if n < 24:                                    # three periods of >= 8 points at least
            continue
        t = np.arange(n)
        slope, icpt = np.polyfit(t, v, 1)
        r = v - (slope * t + icpt)
        if r.std() < 1e-12:
            continue
        acf = _acf(r)
        neg = np.flatnonzero(acf < 0)
        if neg.size == 0:
            continue
        first_neg = int(neg[0])
        hi = n // 3
        if first_neg >= hi:
            continue
        lag = first_neg + int(np.argmax(acf[first_neg:hi + 1]))
        peak, trough = float(acf[lag]), float(acf[first_neg:lag + 1].min()) if lag > first_neg else 0.0
        p2p = 2 * math.sqrt(2) * float(r.std())       # peak-to-peak of a sine with this std
        level = float(np.median(np.abs(v))) or 1e-9
        halves = np.array_split(r, 2)
        sustained = min(h.std() for h in halves) / max(max(h.std() for h in halves), 1e-12)
        trend = abs(slope) * n
        if (lag >= 4 and peak >= th.osc_acf and trough <= -0.2 and p2p / level >= th.osc_rel_amp
                and trend < p2p and sustained >= 0.5):
            cand = (peak, name, lag, p2p, level, trend)
            best = max(best, cand) if best else cand
    if best is None:
        return None
    peak, name, lag, p2p, level, trend = best
    return c.flag("oscillation", "warn",
                  f"{name} swings periodically (period ~{lag} log rows, peak-to-peak {p2p:.3g} "
                  f"around {level:.3g}) with no trend", {
                      "series": name, "period_rows": lag, "autocorrelation": round(peak, 3),
                      "peak_to_peak": _r(p2p), "level": _r(level), "trend_over_log": _r(trend)},
                  0, c.n - 1, 0.7)


def _acf(r: np.ndarray) -> np.ndarray:
    """Normalized autocorrelation by FFT (O(n log n): cheap enough to run live)."""
    n = r.size
    f = np.fft.rfft(r, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n]
    return acf / acf[0]


# codes whose stretch, once over, leaves the run as it should be: a transient that recovered
_TRANSIENT = ("d_overpowering", "d_fooled", "d_not_learning")


def _recovered(c: Context, f: Flag) -> None:
    """A stretch that ended early (before the last 30 % of the log) and covered under half of it,
    after which the run went on normally: a transient, noted as info, not a failure."""
    if f.code not in _TRANSIENT or not f.steps or c.n < 10:
        return
    end = int(np.searchsorted(c.steps, f.steps[1], side="right"))
    frac = f.evidence.get("stretch_fraction", 1.0)
    if end <= 0.7 * c.n and frac < 0.5:
        f.severity = "info"
        f.summary += f"; then it recovered for the last {c.n - end} of {c.n} points (a transient)"
        f.evidence["recovered"] = True


def detect(table: Table, thresholds: Thresholds = DEFAULT, context: Context | None = None
           ) -> list[Flag]:
    """Run every detector on a Table; a ``healthy`` info flag when none fires.

    ``d_overpowering`` is dropped when ``inconsistent_losses`` explains the near-zero D loss, and
    ``d_fooled`` becomes a warning when ``d_not_learning`` names its cause.
    """
    c = context or Context(table, thresholds)
    if c.n == 0:
        return []
    flags = [f for f in (fn(c) for fn in DETECTORS.values()) if f is not None]
    for f in flags:
        _recovered(c, f)
    codes = {f.code for f in flags if f.severity != "info"}
    if "inconsistent_losses" in codes:
        flags = [f for f in flags if f.code != "d_overpowering"]
    if "d_not_learning" in codes:
        for f in flags:
            if f.code == "d_fooled" and f.severity != "info":   # a consequence of D not learning
                f.severity = "warn"
                f.summary += " (a consequence of the discriminator not learning)"
    if not any(f.severity != "info" for f in flags):
        flags.append(Flag(code="healthy", severity="info",
                          summary=f"no dynamics problem found in {c.n} points", evidence={
                              "points": c.n, "series": sorted(c.raw)},
                          steps=c.span(0, c.n - 1), advice=[], confidence=round(0.8 * c.weight, 3)))
    return flags
