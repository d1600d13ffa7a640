"""Which loss convention a log uses, and D(G(z)) inferred from the G loss when it was not logged.

With BCE, a discriminator at chance (D = 0.5 everywhere) pays ln 2 per term. Logs differ in how
they combine terms, so the D loss at chance is ``m * ln 2``:

    m = 1   D loss = mean of the real and fake terms        (0.693)
    m = 2   D loss = sum of the real and fake terms         (1.386)
    m = 4   sum of the terms with an extra factor 2         (2.773, report 000)

and the G loss at chance is ``k * ln 2`` (k = 1 for the usual non-saturating ``-log D(G(z))``, 0.5 or
2 when a factor is applied). The convention is inferred from the numbers (never configured):
from logged D(x)/D(G(z)) when they exist (the D loss is compared with -ln D(x) - ln(1 - D(G(z)))),
else from a flat stretch pinned at a multiple of ln 2. The result always says how it was inferred.
"""
from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2.0)
D_MULTIPLES = (1.0, 2.0, 4.0)      # D loss at chance / ln 2
G_FACTORS = (1.0, 0.5, 2.0)        # G loss at chance / ln 2, most common first
_DESCRIBE_D = {1.0: "D loss = mean of the real and fake BCE terms (chance = ln 2 = 0.693)",
               2.0: "D loss = sum of the real and fake BCE terms (chance = 2 ln 2 = 1.386)",
               4.0: "D loss = sum of the real and fake BCE terms times 2 (chance = 4 ln 2 = 2.773)"}


def _snap(ratio: float, options, tol: float) -> float | None:
    """The option nearest to ``ratio`` within relative ``tol``, else None."""
    if not math.isfinite(ratio) or ratio <= 0:
        return None
    best = min(options, key=lambda o: abs(math.log(ratio / o)))
    return best if abs(ratio / best - 1) <= tol else None


def infer(d_loss: np.ndarray | None, g_loss: np.ndarray | None, d_real: np.ndarray | None,
          d_fake: np.ndarray | None, chance_tol: float = 0.06) -> dict:
    """Infer the loss convention from aligned (smoothed) series; see the module docstring.

    Returns {"d_multiple", "g_factor", "how", "description", ...}; ``g_factor`` defaults to 1 (the
    non-saturating loss) with ``how`` saying it was assumed.
    """
    out: dict = {"d_multiple": None, "g_factor": None, "how": []}
    if d_loss is not None and d_real is not None and d_fake is not None:
        ok = np.isfinite(d_loss) & np.isfinite(d_real) & np.isfinite(d_fake)
        ok &= (d_real > 1e-6) & (d_fake < 1 - 1e-6)
        if ok.sum() >= 1:
            terms = -np.log(d_real[ok]) - np.log1p(-d_fake[ok])
            keep = terms > 0.05
            if keep.any():
                # Jensen: mean(-log p) >= -log(mean p), so the ratio leans above the true factor
                ratio = float(np.median(d_loss[ok][keep] / terms[keep]))
                snapped = _snap(ratio, (0.5, 1.0, 2.0), 0.3)
                if snapped is not None:
                    out["d_multiple"] = 2 * snapped
                    out["how"].append(f"D loss / (-ln D(x) - ln(1 - D(G(z)))) = {ratio:.2f}")
    if g_loss is not None and d_fake is not None:
        ok = np.isfinite(g_loss) & np.isfinite(d_fake) & (d_fake > 1e-6) & (d_fake < 0.98)
        if ok.sum() >= 1:
            ratio = float(np.median(g_loss[ok] / -np.log(d_fake[ok])))
            snapped = _snap(ratio, G_FACTORS, 0.3)
            if snapped is not None:
                out["g_factor"] = snapped
                out["how"].append(f"G loss / -ln D(G(z)) = {ratio:.2f}")
    if out["d_multiple"] is None and d_loss is not None and np.isfinite(d_loss).any():
        med = float(np.nanmedian(d_loss))
        snapped = _snap(med / LN2, D_MULTIPLES, chance_tol)
        if snapped is not None:
            out["d_multiple"] = snapped
            out["how"].append(f"D loss median {med:.4f} = {snapped:g} ln 2 (D at chance)")
    if out["g_factor"] is None and g_loss is not None and np.isfinite(g_loss).any():
        med = float(np.nanmedian(g_loss))
        snapped = _snap(med / LN2, G_FACTORS, chance_tol)
        if snapped is not None and out["d_multiple"] is not None:
            out["g_factor"] = snapped
            out["how"].append(f"G loss median {med:.4f} = {snapped:g} ln 2 (D at chance)")
    if out["g_factor"] is None:
        out["g_factor"] = 1.0
        out["how"].append("G loss assumed non-saturating -ln D(G(z)) with no factor")
    if out["d_multiple"] is not None:
        out["description"] = _DESCRIBE_D[out["d_multiple"]]
    return out


def infer_d_fake(g_loss: np.ndarray, g_factor: float = 1.0) -> np.ndarray | None:
    """Mean D(G(z)) implied by a non-saturating G loss: exp(-g_loss / factor).

    exp(-mean(-log p)) is the geometric mean of D(G(z)), never above the arithmetic mean, so a
    D(G(z)) inferred this way is a conservative (low) estimate. Returns None for logs whose G
    loss goes negative (a saturating or Wasserstein loss, where the formula does not hold).
    """
    finite = g_loss[np.isfinite(g_loss)]
    if finite.size == 0 or (finite < -1e-6).mean() > 0.05:
        return None
    return np.exp(-np.clip(g_loss, 0, None) / g_factor)
