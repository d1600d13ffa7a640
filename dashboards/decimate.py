"""Server-side decimation of long series that keeps their extremes, and their EMA smoothing.

A run with a million logged steps cannot be sent to the browser point by point: the JSON alone is
tens of megabytes and the browser stalls. Averaging or striding would hide exactly what a person
looks for (a spike, a collapse to zero, a NaN). So each series is cut into equal-count buckets and
every bucket keeps its minimum and its maximum (in step order), plus the first and last point: the
drawn line covers the same vertical envelope as the full series at screen resolution.

Hand-written because plotly-resampler (the library that does this) is not a dependency, and the
core is ten lines of numpy.
"""
from __future__ import annotations

import math

import numpy as np

#: Buckets per series by default: ~2 points per horizontal pixel on a wide screen.
DEFAULT_BUCKETS = 2000


def window(x: np.ndarray, y: np.ndarray, x_range: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """The part of a step-sorted series inside ``x_range`` plus one point either side.

    The extra points let the line reach the edges of a zoomed view instead of stopping short.
    """
    if x_range is None or len(x) == 0:
        return x, y
    lo, hi = sorted(float(v) for v in x_range)
    i = max(int(np.searchsorted(x, lo, side="left")) - 1, 0)
    j = min(int(np.searchsorted(x, hi, side="right")) + 1, len(x))
    return x[i:j], y[i:j]


def minmax_decimate(x, y, buckets: int = DEFAULT_BUCKETS,
                    x_range: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return at most ``2 * buckets + 2`` points of (x, y) keeping each bucket's min and max.

    x: steps, sorted ascending; y: values (NaN allowed: a bucket made only of NaN keeps one NaN so
    the gap stays visible; NaN mixed with numbers keeps the numbers' extremes).
    x_range: optional (lo, hi) zoom window; only that part is decimated, so zooming in reveals
    detail at full resolution.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.shape} vs {y.shape}")
    x, y = window(x, y, x_range)
    n = len(y)
    buckets = max(1, int(buckets))
    if n <= 2 * buckets + 2:
        return x, y
    k = -(-n // buckets)  # points per bucket, rounded up
    m = n // k            # full buckets; the rest (< k points) is one short bucket
    if np.isnan(y).any():  # argmin/argmax would stop at the first NaN: mask NaN out (a copy)
        nan = np.isnan(y)
        lo, hi = np.where(nan, np.inf, y), np.where(nan, -np.inf, y)
    else:                  # the common case: reshaped views, no copy of a million points
        lo = hi = y
    base = np.arange(m) * k
    parts = [base + lo[:m * k].reshape(m, k).argmin(axis=1),
             base + hi[:m * k].reshape(m, k).argmax(axis=1), [0, n - 1]]
    if m * k < n:
        parts.append([m * k + int(lo[m * k:].argmin()), m * k + int(hi[m * k:].argmax())])
    keep = np.unique(np.concatenate(parts).astype(np.int64))
    return x[keep], y[keep]


def ema(y, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average with weight in [0, 1).

    s_i = weight * s_{i-1} + (1 - weight) * y_i from s_{-1} = 0, divided by 1 - weight**(i+1) so the
    start is not pulled towards zero. Non-finite values are skipped (they stay NaN in the output,
    and the average carries on over them), as TensorBoard does. Linear time (scipy's lfilter).
    """
    y = np.asarray(y, dtype=float)
    w = float(weight)
    if not 0 < w < 1 or len(y) < 2:
        return y
    from scipy.signal import lfilter

    ok = np.isfinite(y)
    vals = y[ok] if not ok.all() else y
    if not len(vals):
        return y
    sm = lfilter([1 - w], [1, -w], vals)
    # the debias factor 1 - w**(i+1) is 1.0 in float64 once w**(i+1) < 1e-17: divide only before
    m = min(len(vals), int(math.ceil(math.log(1e-17) / math.log(w))) + 1)
    sm[:m] /= 1 - w ** np.arange(1, m + 1)
    if ok.all():
        return sm
    out = np.full(len(y), np.nan)
    out[ok] = sm
    return out
