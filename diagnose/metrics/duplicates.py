"""Near-duplicates among generated samples and a birthday-paradox estimate of the support size.

Arora & Zhang (2017): if a generator's outputs are spread uniformly over S distinct images, a
sample of n contains about C(n, 2) / S colliding pairs, so S is estimated as C(n, 2) / pairs.
Hand-written (no library does this) and chunked like the k-NN so memory stays bounded. Two
samples are near-duplicates when their feature distance is under a fraction of the typical
nearest-neighbour distance between REAL samples at the same n, which keeps the threshold
relative to the data.
"""
from __future__ import annotations

import torch

from diagnose.metrics.knn import _rows_per_chunk, squared_distances

#: Near-duplicate threshold as a fraction of the real data's median nearest-neighbour distance.
DUPLICATE_FRACTION = 0.1


def duplicate_threshold(real_nn_within: torch.Tensor, fraction: float = DUPLICATE_FRACTION) -> float:
    """Threshold from the real set's within-set nearest-neighbour distances."""
    return float(real_nn_within.double().median()) * fraction


def duplicates(features, threshold: float, chunk: int | None = None) -> dict:
    """Near-duplicate rate, colliding pairs, distinct outputs and birthday support estimate.

    features:  (n, d) features of one set of samples
    threshold: distance under which two samples count as the same output
    """
    x = features.float() if features.dtype != torch.float64 else features
    n = len(x)
    step = _rows_per_chunk(n, chunk)
    has_dup = torch.zeros(n, dtype=torch.bool)
    first_dup = torch.zeros(n, dtype=torch.bool)   # has a near-duplicate with a smaller index
    pairs = 0
    x_sq = (x * x).sum(1)
    for i in range(0, n, step):
        close = squared_distances(x[i:i + step], x, x_sq) <= threshold * threshold
        rows = torch.arange(close.shape[0])
        close[rows, rows + i] = False
        has_dup[i:i + step] = close.any(1).cpu()
        cols = torch.arange(n)[None, :]
        first_dup[i:i + step] = (close & (cols < (rows[:, None] + i))).any(1).cpu()
        pairs += int(close.sum())
    pairs //= 2
    total_pairs = n * (n - 1) // 2
    support = total_pairs / pairs if pairs else float("inf")
    return {
        "duplicate_rate": float(has_dup.double().mean()),
        "distinct_outputs": int((~first_dup).sum()),
        "duplicate_pairs": pairs,
        "support_estimate": support,
        # With no collision the birthday argument only says the support exceeds C(n, 2).
        "support_lower_bound": total_pairs if not pairs else None,
        "threshold": float(threshold),
        "n": n,
    }
