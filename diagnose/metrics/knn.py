"""Precision, recall, density and coverage (Naeem et al. 2020) with a chunked k-NN in torch.

Hand-written rather than calling ``prdc`` or torch-fidelity's ``prc`` because both materialize
full N x N distance matrices (prdc three of them, in numpy); here rows are processed in chunks so
memory stays O(chunk x N) and the real-vs-fake distances are computed ONCE for all four metrics
plus the nearest-real distance that memorization needs. Definitions follow ``prdc.compute_prdc``
exactly (strict ``<`` against the k-th neighbour radius, self included in the k+1 smallest), and
tests check the numbers against prdc and torch-fidelity on random data.
"""
from __future__ import annotations

import torch

#: Neighbourhood size used throughout (Naeem et al. recommend k=5).
DEFAULT_K = 5
#: Upper bound on the elements of one distance block (16M floats = 64 MB in float32): big enough
#: that each block is one efficient matrix product, small enough that memory stays bounded.
BLOCK_ELEMENTS = 1 << 24


def as_tensor(x) -> torch.Tensor:
    """``x`` as a floating-point tensor (integers become float32)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    return t.float() if not t.dtype.is_floating_point else t


def rows_per_chunk(n_cols: int, chunk: int | None) -> int:
    """Rows of a distance chunk against ``n_cols`` columns: ``chunk`` when given, else as many
    as fit in BLOCK_ELEMENTS."""
    if chunk:
        return max(1, int(chunk))
    return max(1, BLOCK_ELEMENTS // max(1, n_cols))


def right_operand(b: torch.Tensor, b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """``[-2b, 1, |b|^2]``: the right side of the fused distance product, built once per ``b``."""
    b_sq = (b * b).sum(1) if b_sq is None else b_sq
    ones_b = torch.ones(len(b), 1, dtype=b.dtype, device=b.device)
    return torch.cat([-2.0 * b, ones_b, b_sq[:, None]], 1)


def squared_distances(a: torch.Tensor, b: torch.Tensor,
                      b_sq: torch.Tensor | None = None,
                      b_aug: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances between rows of ``a`` and ``b`` via one fused matrix product.

    Everything that only compares distances works on squares (same order, no square root over
    N x N elements). Low-dimensional rows (2D mixtures) use direct differences instead: there the
    matrix-product form loses the tiny within-mode distances to float32 cancellation.
    b_sq: precomputed ``(b * b).sum(1)``; b_aug: precomputed ``right_operand(b)``, so chunked
    callers pay for them once.
    """
    if a.shape[1] <= 8:
        return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").square_()
    # |a|^2 + |b|^2 - 2ab, the form sklearn uses too, as ONE matrix product of augmented rows
    # [a, |a|^2, 1] . [-2b, 1, |b|^2]: no further passes over the block. Tiny negative round-off
    # is harmless for comparisons; the public distance functions clamp before the square root.
    if b_aug is None:
        b_aug = right_operand(b, b_sq)
    ones_a = torch.ones(len(a), 1, dtype=a.dtype, device=a.device)
    a_aug = torch.cat([a, (a * a).sum(1, keepdim=True), ones_a], 1)
    return a_aug @ b_aug.T


def kth_sq(x: torch.Tensor, k: int, chunk: int | None) -> torch.Tensor:
    """Squared distance of each row of ``x`` to its k-th nearest other row, in chunks."""
    step = rows_per_chunk(len(x), chunk)
    out = torch.empty(len(x), dtype=x.dtype, device=x.device)
    x_aug = right_operand(x) if x.shape[1] > 8 else None
    for i in range(0, len(x), step):
        out[i:i + step] = kth_of_rows(squared_distances(x[i:i + step], x, b_aug=x_aug), k)
    return out


def kth_neighbour_radii(x, k: int = DEFAULT_K, chunk: int | None = None) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row (self counted as the 0-th)."""
    return kth_sq(as_tensor(x), k, chunk).clamp_(min=0).sqrt_()


def nearest_neighbours(query, ref, chunk: int | None = None, exclude_self: bool = False):
    """(distance, index) of each ``query`` row's nearest ``ref`` row, chunked over queries.

    exclude_self: query and ref are the same set and a row may not match itself.
    """
    q, r = as_tensor(query), as_tensor(ref)
    step = rows_per_chunk(len(r), chunk)
    dist = torch.empty(len(q), dtype=q.dtype, device=q.device)
    idx = torch.empty(len(q), dtype=torch.long, device=q.device)
    r_aug = right_operand(r) if r.shape[1] > 8 else None
    for i in range(0, len(q), step):
        d = squared_distances(q[i:i + step], r, b_aug=r_aug)
        if exclude_self:
            rows = torch.arange(d.shape[0], device=d.device)
            d[rows, rows + i] = float("inf")
        v, j = d.min(dim=1)
        dist[i:i + step], idx[i:i + step] = v, j
    return dist.clamp_(min=0).sqrt_(), idx


class PRDCCounter:
    """Precision/recall/density/coverage accumulated over chunks of fake rows against one real set.

    ``add`` takes the squared distances of fake rows ``lo .. lo + c`` to every real row and those
    rows' squared k-th neighbour radii among the fakes; a pass that computes the distance blocks
    for other statistics too feeds them here instead of computing them again.
    """

    def __init__(self, n_fake: int, real_sq_radii: torch.Tensor, k: int):
        dev, dt = real_sq_radii.device, real_sq_radii.dtype
        self.k, self.r_real = k, real_sq_radii
        n_real = len(real_sq_radii)
        self.in_ball = torch.empty(n_fake, dtype=torch.bool, device=dev)
        self.density_count = torch.empty(n_fake, dtype=torch.long, device=dev)
        self.recall_hit = torch.zeros(n_real, dtype=torch.bool, device=dev)
        self.min_to_fake = torch.full((n_real,), float("inf"), dtype=dt, device=dev)
        self.nn_dist = torch.empty(n_fake, dtype=dt, device=dev)
        self.nn_index = torch.empty(n_fake, dtype=torch.long, device=dev)

    def add(self, d: torch.Tensor, fake_sq_radii: torch.Tensor, lo: int) -> None:
        """Squared distances ``d`` (c, n_real) of fake rows lo..lo+c, their squared radii (c,)."""
        hi = lo + d.shape[0]
        inside = d < self.r_real[None, :]
        self.density_count[lo:hi] = inside.sum(1, dtype=torch.int32)
        self.in_ball[lo:hi] = self.density_count[lo:hi] > 0
        self.recall_hit |= (d < fake_sq_radii[:, None]).any(0)
        torch.minimum(self.min_to_fake, d.amin(0), out=self.min_to_fake)
        self.nn_dist[lo:hi], self.nn_index[lo:hi] = d.min(1)

    def result(self) -> dict:
        """The four metrics plus ``nn_dist``/``nn_index``: each fake row's nearest real row."""
        return {
            "precision": float(self.in_ball.double().mean()),
            "recall": float(self.recall_hit.double().mean()),
            "density": float(self.density_count.double().mean() / self.k),
            "coverage": float((self.min_to_fake < self.r_real).double().mean()),
            "nn_dist": self.nn_dist.clamp_(min=0).sqrt_(),
            "nn_index": self.nn_index,
        }


def kth_of_rows(d: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's (k+1)-th smallest entry of squared self-distances (self counted as the 0-th)."""
    return nearest_of_rows(d, k).values[:, -1]


def nearest_of_rows(d: torch.Tensor, k: int):
    """The k+1 smallest entries of each row (sorted values and their column indices)."""
    return d.topk(min(k + 1, d.shape[1]), dim=1, largest=False)


def prdc(real, fake, k: int = DEFAULT_K, chunk: int | None = None,
         real_radii: torch.Tensor | None = None) -> dict:
    """Precision, recall, density, coverage of ``fake`` against ``real`` features.

    real_radii: precomputed ``kth_neighbour_radii(real, k)`` (cached with the reference).
    Returns the four metrics plus ``nn_dist``/``nn_index``: each fake row's nearest real row.
    """
    real, fake = as_tensor(real), as_tensor(fake).to(real.device, real.dtype)
    # Squared radii: comparisons of squares give the same answers without N x N square roots.
    r_real = kth_sq(real, k, chunk) if real_radii is None else real_radii.to(real).square()
    r_fake = kth_sq(fake, k, chunk)
    step = rows_per_chunk(len(real), chunk)
    counter = PRDCCounter(len(fake), r_real, k)
    real_aug = right_operand(real) if real.shape[1] > 8 else None
    for i in range(0, len(fake), step):
        d = squared_distances(fake[i:i + step], real, b_aug=real_aug)   # (chunk, n_real)
        counter.add(d, r_fake[i:i + step], i)
    return counter.result()
