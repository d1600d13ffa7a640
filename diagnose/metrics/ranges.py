"""Range check: are generator outputs on the same scale as the real data?

Report 003 trained on real images in [0, 1] (ToTensor) while G ended in Tanh, so its fakes lived
in [-1, 1]: D separates them by brightness alone. We compare robust extremes (0.5 % / 99.5 %
quantiles) of the raw generator output with the data's value range; the tolerance is a share of
the data's span, so it is scale-free. A mismatch is output beyond either end of the data's range,
or a low end that never reaches the data's low end (a [0, 1] generator against [-1, 1] data). A
high end short of the data's maximum is NOT a mismatch: dim, unconverged samples do that. Nor is
a low end short of the data's when the outputs barely spread at all (a near-constant grey image
spans a few percent of the range): that is a collapsed generator, which the diversity rules flag,
not a generator working on another scale.
"""
from __future__ import annotations

#: How far (as a share of the data's span) an output extreme may sit from the data's extreme.
RANGE_TOLERANCE = 0.25
#: Least spread (share of the data's span) for "low end short of the data's" to mean another scale.
MIN_SPREAD = 0.35


def range_check(raw_lo: float, raw_hi: float, data_range: tuple[float, float] | None,
                tolerance: float = RANGE_TOLERANCE) -> dict:
    """Compare raw output extremes with the data's (lo, hi); ``mismatch`` says whether they differ."""
    if data_range is None:
        return {"raw_range": [raw_lo, raw_hi], "data_range": None, "mismatch": False,
                "checked": False}
    lo, hi = float(data_range[0]), float(data_range[1])
    span = hi - lo
    off_lo = abs(raw_lo - lo) / span
    off_hi = abs(raw_hi - hi) / span
    spread = (raw_hi - raw_lo) / span
    return {"raw_range": [raw_lo, raw_hi], "data_range": [lo, hi],
            "offset_low": off_lo, "offset_high": off_hi, "spread": spread,
            "mismatch": bool(raw_lo < lo - tolerance * span or raw_hi > hi + tolerance * span
                             or (off_lo > tolerance and spread >= MIN_SPREAD)),
            "checked": True}
