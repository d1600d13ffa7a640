"""The fitted tables behind the sample rules: thresholds and confidence calibration.

Both are fitted on the graded ground-truth suite (``analysis.sweep``) at n = 1,000, the size the
rules judge at (``reference.JUDGE_N``), and only on the settings of the fixed *fit* half; the
other half reports how they do on settings they were not chosen on. Refit with

    diagnose validate --sweep --refit

which runs the suite, chooses the thresholds, fits the confidences and prints this module's two
tables to paste here (the numbers below are what that command printed; see benchmarks/RESULTS.md).

THRESHOLDS: each rule's parameter, relative to held-out real data at the same n (see rules.py).
CONFIDENCE: per flag code (and ``healthy``), a logistic curve P(right) = 1 / (1 + exp(-(a + b m)))
of the flag's *margin* m: how far, in log units, the deciding statistic lies past its threshold
(0 at the threshold; for ``healthy``, how far the closest rule is from firing), each fit-half
setting judged under thresholds fitted without its own dial (``sweep.held_out_margins``). Where the fit half
holds no wrong headline for a code, a slope cannot be fitted and the table holds the share right
smoothed by one pseudo-observation each way, (right + 1) / (count + 2), as a constant (b = 0).
"""
from __future__ import annotations

import math

THRESHOLDS: dict[str, float] = {
    "dup_excess": 0.2,          # near-duplicate rate above real data's by this share of samples...
    "support_share": 0.25,      # ...and a birthday support under this share of the samples judged
    "effective_modes_share": 0.2,  # effective modes under this share of real data's
    "spread_share": 0.1,        # outputs of independent latents this close (share of real pairs')
    "copy_factor": 5.0,         # near-copy share this many times real data's...
    "copy_floor": 0.15,          # ...and at least this share of samples; or
    "memo_distance": 0.7,       # median distance to the training set under this share of new data's
    "precision_share": 0.5,     # precision (or % high quality) under this share of real data's...
    "fid_factor": 3.0,          # ...and FID this many times real data's...
    "distance_factor": 2.0,     # ...and samples this many times as far from training data as new data
    "missing_share": 0.05,      # modes missing beyond this share of those real data hits
    "off_manifold_share": 0.2,  # precision under this share of real's: class-based diversity says little
    "kl_excess": 0.25,          # KL to the data's mode histogram above real data's by this...
    "ndb_excess": 0.3,          # ...and NDB/K above real data's by this
}

#: code -> (a, b) of the logistic confidence on the margin.
CONFIDENCE: dict[str, tuple[float, float]] = {
    "mode_collapse": (2.303, 0.0),
    "healthy": (2.708, 0.0),
    "partial_collapse": (1.946, 0.0),
    "memorization": (1.386, 0.0),
    "not_converged": (1.386, 0.0),
    "range_mismatch": (0.693, 0.0),
    "diverged": (1.386, 0.0),     # not in the suite: 0.8 assumed, not fitted
}

#: Where the tables came from (printed by --refit).
FITTED_ON = "fit half of the graded suite (36 settings), n = 1,000"


def confidence(code: str, margin: float | None) -> float:
    """Calibrated probability that a flag (or a healthy verdict) with this margin is right."""
    a, b = CONFIDENCE.get(code, (1.0, 0.0))
    m = 0.0 if margin is None or not math.isfinite(margin) else max(-10.0, min(10.0, margin))
    p = 1.0 / (1.0 + math.exp(-(a + b * m)))
    return round(min(0.99, max(0.01, p)), 3)
