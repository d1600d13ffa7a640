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

from diagnose.metrics.knn import rows_per_chunk, right_operand, squared_distances

#: Near-duplicate threshold as a fraction of the real data's median nearest-neighbour distance.
DUPLICATE_FRACTION = 0.1


def duplicate_threshold(real_nn_within: torch.Tensor, fraction: float = DUPLICATE_FRACTION) -> float:
    """Threshold from the real set's within-set nearest-neighbour distances."""
    return float(real_nn_within.double().median()) * fraction


class CloseCounter:
    """Near-duplicate counts accumulated over chunks of rows of one set's self-distance matrix.

    ``add`` takes the squared distances of rows ``lo .. lo + c`` to every row of the set (so a
    k-NN pass that already computed them shares the matrix product); ``result`` is the
    :func:`duplicates` dict.
    """

    def __init__(self, n: int, threshold: float, device=None):
        self.n, self.threshold = int(n), float(threshold)
        self.limit = float(threshold) * float(threshold)
        self.has_dup = torch.zeros(self.n, dtype=torch.bool, device=device)
        # has a near-duplicate with a smaller index: the distinct outputs are the rows without one
        self.first_dup = torch.zeros(self.n, dtype=torch.bool, device=device)
        self.pairs = 0

    def add(self, d_sq: torch.Tensor, lo: int, nearest=None) -> None:
        """Rows ``lo .. lo + len(d_sq)`` of the squared self-distances (each row all n columns).

        nearest: ``d_sq.topk(j, largest=False)`` (sorted values, indices), when the caller has it
        (the k-NN radii): a row whose j-th smallest entry is over the threshold has all its
        near-duplicates among those j, so only rows with j or more are scanned in full.
        """
        c = d_sq.shape[0]
        ids = torch.arange(lo, lo + c, device=d_sq.device)
        count = torch.zeros(c, dtype=torch.long, device=d_sq.device)
        earlier = torch.zeros(c, dtype=torch.bool, device=d_sq.device)
        if nearest is not None and nearest[0].shape[1] < d_sq.shape[1]:
            vals, idx = nearest
            close = (vals <= self.limit) & (idx != ids[:, None])
            count = close.sum(1)
            earlier = (close & (idx < ids[:, None])).any(1)
            full = (vals[:, -1] <= self.limit).nonzero().squeeze(1)
        else:
            full = torch.arange(c, device=d_sq.device)
        if len(full):
            cnt, ear = self._scan(d_sq[full], ids[full])
            count[full], earlier[full] = cnt, ear
        self.pairs += int(count.sum())
        self.has_dup[lo:lo + c] = count > 0
        self.first_dup[lo:lo + c] = earlier

    def _scan(self, d_sq: torch.Tensor, ids: torch.Tensor):
        """(near-duplicates per row, has one at a smaller index) of whole rows ``ids``."""
        close = d_sq <= self.limit
        close[torch.arange(len(ids), device=close.device), ids] = False
        count = close.sum(1)
        earlier = torch.zeros(len(ids), dtype=torch.bool, device=close.device)
        hit = (count > 0).nonzero().squeeze(1)
        if len(hit):           # only rows with a near-duplicate can have one at a smaller index
            cols = torch.arange(self.n, device=close.device)[None, :]
            earlier[hit] = (close[hit] & (cols < ids[hit, None])).any(1)
        return count, earlier

    def result(self) -> dict:
        """Rate, distinct outputs, colliding pairs and the birthday support estimate."""
        n = self.n
        pairs = self.pairs // 2
        total_pairs = n * (n - 1) // 2
        support = total_pairs / pairs if pairs else float("inf")
        return {
            "duplicate_rate": float(self.has_dup.double().mean()),
            "distinct_outputs": int((~self.first_dup).sum()),
            "duplicate_pairs": pairs,
            "support_estimate": support,
            # With no collision the birthday argument only says the support exceeds C(n, 2).
            "support_lower_bound": total_pairs if not pairs else None,
            "threshold": self.threshold,
            "n": n,
        }


def duplicates(features, threshold: float, chunk: int | None = None) -> dict:
    """Near-duplicate rate, colliding pairs, distinct outputs and birthday support estimate.

    features:  (n, d) features of one set of samples
    threshold: distance under which two samples count as the same output
    """
    x = features.float() if features.dtype != torch.float64 else features
    n = len(x)
    step = rows_per_chunk(n, chunk)
    counter = CloseCounter(n, threshold, device=x.device)
    x_aug = right_operand(x) if x.shape[1] > 8 else None
    for i in range(0, n, step):
        counter.add(squared_distances(x[i:i + step], x, b_aug=x_aug), i)
    return counter.result()
