"""FID, IS and KID on features we already extracted, with torch-fidelity's formulas.

The check extracts features, logits and labels in one pass; these functions turn them into the
three numbers torch-fidelity reports, without importing torch-fidelity. Its package import pulls
torchvision, torch._dynamo and its CLIP extractor (seconds per process), and each metric module
imports that package, so the formulas are written here in the same operations, on the same
dtypes, with the same random draws (``numpy.random.RandomState(seed)``):

- FID: float64 mean and covariance, ``trace`` and the square roots of the eigenvalues of
  ``sigma1 @ sigma2`` (torch-fidelity's ``fid_statistics_to_metric``). The statistics stream over
  the rows in chunks, so no float64 copy of all features is ever made.
- IS: softmax of float64 logits, rows shuffled by ``RandomState(seed).permutation``, mean KL per
  split, exponentiated (``isc_features_to_metric``).
- KID: the unbiased MMD^2 estimator with the cubic polynomial kernel ``(x.y / d + 1)^3`` over
  random subsets drawn exactly as ``kid_features_to_metric`` draws them, in batched products of
  many subsets instead of a Python loop of numpy products, each within-set kernel matrix
  computed above its diagonal tiles only (it is symmetric).

tests/test_speed_fidelity.py checks each against torch-fidelity's own function on the same inputs.
"""
from __future__ import annotations

import numpy as np
import torch

#: torch-fidelity's defaults for KID (subsets of 1000, 100 subsets), shrunk when n is smaller.
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
#: Rows converted to float64 at a time for the FID statistics (memory stays O(chunk x dim)).
STAT_CHUNK = 8192
#: Most kernel-matrix elements alive at once in the batched KID (16M floats = 64 MB).
KID_BLOCK_ELEMENTS = 1 << 24


def _tensor(x) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.detach()


def fid_statistics(features) -> dict:
    """Mean and covariance (float64 numpy) of ``features`` (N, D), as torch-fidelity's
    ``fid_features_to_statistics`` (``np.mean``, ``np.cov(rowvar=False)``) computes them, but in
    two streaming passes of float64 chunks: features of 50,000 Inception samples are 400 MB in
    float32 and would be 800 MB more as one float64 copy."""
    f = _tensor(features)
    n, d = f.shape
    mu = torch.zeros(d, dtype=torch.float64)
    for i in range(0, n, STAT_CHUNK):
        mu += f[i:i + STAT_CHUNK].to("cpu", torch.float64).sum(0)
    mu /= n
    cov = torch.zeros(d, d, dtype=torch.float64)
    for i in range(0, n, STAT_CHUNK):
        c = f[i:i + STAT_CHUNK].to("cpu", torch.float64) - mu
        cov.addmm_(c.T, c)
    cov /= max(n - 1, 1) if n > 1 else float("nan")
    return {"mu": mu.numpy(), "sigma": cov.numpy()}


def _eigvals_one_thread(a: np.ndarray) -> np.ndarray:
    """``np.linalg.eigvals(a)`` with numpy's BLAS held to one thread.

    A D x D eigenproblem (128 for mnist-lenet) is a few milliseconds on one core, but numpy's
    threaded BLAS right after torch's OpenMP work (whose threads still spin) took 0.2-0.4 s per
    call on the 2-core machine: ten times a check (the full FID and one per judged block).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.eigvals(a)


def fid_from_statistics(stats_1: dict, stats_2: dict) -> float:
    """Frechet distance between two statistics dicts (torch-fidelity's formula)."""
    mu1, sigma1 = (np.asarray(stats_1[k], dtype=np.float64) for k in ("mu", "sigma"))
    mu2, sigma2 = (np.asarray(stats_2[k], dtype=np.float64) for k in ("mu", "sigma"))
    if not np.all(np.isfinite(sigma1)) or not np.all(np.isfinite(mu1)):
        return float("nan")
    diff = mu1 - mu2
    tr_covmean = np.sum(np.sqrt(_eigvals_one_thread(sigma1.dot(sigma2)).astype("complex128")).real)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid(features_1, features_2_or_stats) -> float:
    """FID between generated features and real features (or cached real statistics)."""
    s2 = features_2_or_stats if isinstance(features_2_or_stats, dict) else fid_statistics(
        features_2_or_stats)
    return fid_from_statistics(fid_statistics(features_1), s2)


def inception_score(logits, splits: int = 10, seed: int = 2020) -> tuple[float, float]:
    """(mean, std) Inception Score from class logits (torch-fidelity's ``isc_features_to_metric``)."""
    x = _tensor(logits).cpu()
    n = len(x)
    splits = max(1, min(int(splits), n))
    x = x[torch.from_numpy(np.random.RandomState(seed).permutation(n))].double()
    p, log_p = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        q = p[lo:hi].mean(dim=0, keepdim=True)
        scores.append((p[lo:hi] * (log_p[lo:hi] - q.log())).sum(dim=1).mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def kid_subset_indices(n_1: int, n_2: int, subsets: int, size: int, seed: int = 2020):
    """The subsets torch-fidelity's KID draws: per subset ``choice(n_1, size)`` then
    ``choice(n_2, size)`` without replacement from one ``RandomState(seed)``; (S, size) each."""
    rng = np.random.RandomState(seed)
    i1 = np.empty((subsets, size), dtype=np.int64)
    i2 = np.empty((subsets, size), dtype=np.int64)
    for s in range(subsets):
        i1[s] = rng.choice(n_1, size, replace=False)
        i2[s] = rng.choice(n_2, size, replace=False)
    return torch.from_numpy(i1), torch.from_numpy(i2)


def _tiles(m: int) -> tuple[int, int]:
    """(rows per tile, subsets per product) for subsets of m: two row tiles, so a within-set
    kernel matrix is computed for three quarters of its elements (see ``_self_sums``), and as
    many subsets per product as ``KID_BLOCK_ELEMENTS`` allows. Few large products, not many
    small ones: on a busy 2-core machine every small threaded product waits on its threads."""
    rows = max(1, -(-m // 2))
    return rows, max(1, KID_BLOCK_ELEMENTS // (rows * m))


def _sum_f64(block: torch.Tensor) -> torch.Tensor:
    # Rows summed in float32 (pairwise, like numpy's sum torch-fidelity uses), then in float64:
    # a float64 reduction over every element runs several times slower on the CPU.
    return block.sum(2).sum(1, dtype=torch.float64)


def _cross_sums(x: torch.Tensor, y: torch.Tensor, gamma: float, rows: int) -> torch.Tensor:
    """Sum over each batch of ``(gamma x_i . y_j + 1)^3`` for x (S, m, d), y (S, m, d): (S,) f64."""
    one = torch.ones(1, 1, 1, dtype=x.dtype, device=x.device)
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    yt = y.transpose(1, 2)
    for r in range(0, x.shape[1], rows):
        total += _sum_f64(torch.baddbmm(one, x[:, r:r + rows], yt, alpha=gamma).pow_(3))
    return total


def _self_sums(x: torch.Tensor, gamma: float, rows: int) -> torch.Tensor:
    """Sum over each batch of ``(gamma x_i . x_j + 1)^3`` over i != j for x (S, m, d): (S,) f64.

    The kernel matrix is symmetric: each row tile is multiplied only with the columns from its
    own first row on; the part right of its square diagonal tile counts twice, the diagonal tile
    once without its diagonal (the matrix's own diagonal, as torch-fidelity subtracts it).
    """
    one = torch.ones(1, 1, 1, dtype=x.dtype, device=x.device)
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for r in range(0, x.shape[1], rows):
        t = min(rows, x.shape[1] - r)
        k = torch.baddbmm(one, x[:, r:r + t], x[:, r:].transpose(1, 2), alpha=gamma).pow_(3)
        square = k[:, :, :t]
        total += _sum_f64(square) - square.diagonal(dim1=1, dim2=2).sum(1, dtype=torch.float64)
        if k.shape[2] > t:
            total += 2 * _sum_f64(k[:, :, t:])
    return total


def kid_second_sums(features_2, n_1: int, subsets: int = KID_SUBSETS,
                    subset_size: int = KID_SUBSET_SIZE, seed: int = 2020) -> torch.Tensor:
    """The within-set kernel sums of ``features_2``'s subsets, (S,) float64: the part of
    :func:`kid_mmds` that depends on the second (real) set only, given the first set's size
    (the subsets are drawn alternately from both). A check stores them with the reference."""
    f2 = _tensor(features_2).float()
    m = int(subset_size)
    _, i2 = kid_subset_indices(int(n_1), len(f2), int(subsets), m, seed)
    rows, per = _tiles(m)
    out = torch.empty(int(subsets), dtype=torch.float64)
    for s in range(0, int(subsets), per):
        out[s:s + per] = _self_sums(f2[i2[s:s + per].to(f2.device)], 1.0 / f2.shape[1], rows).cpu()
    return out


def kid_mmds(features_1, features_2, subsets: int = KID_SUBSETS,
             subset_size: int = KID_SUBSET_SIZE, seed: int = 2020,
             second_sums: torch.Tensor | None = None) -> torch.Tensor:
    """Unbiased MMD^2 (cubic polynomial kernel) of each of ``subsets`` random subset pairs, (S,).

    second_sums: :func:`kid_second_sums` of ``features_2`` for these settings, when stored.
    """
    f1 = _tensor(features_1).float()
    f2 = _tensor(features_2).to(f1.device, torch.float32)
    m = int(subset_size)
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 samples, got {m}")
    i1, i2 = kid_subset_indices(len(f1), len(f2), int(subsets), m, seed)
    gamma = 1.0 / f1.shape[1]
    rows, per = _tiles(m)
    out = torch.empty(int(subsets), dtype=torch.float64)
    for s in range(0, int(subsets), per):
        x = f1[i1[s:s + per].to(f1.device)]                  # (S, m, d)
        y = f2[i2[s:s + per].to(f1.device)]
        kxx = _self_sums(x, gamma, rows)
        kyy = (_self_sums(y, gamma, rows) if second_sums is None
               else second_sums[s:s + per].to(x.device, torch.float64))
        kxy = _cross_sums(x, y, gamma, rows)
        out[s:s + per] = ((kxx + kyy) / (m * (m - 1)) - 2 * kxy / (m * m)).cpu()
    return out


def kid_size(n_1: int, n_2: int, subset_size: int = KID_SUBSET_SIZE) -> int:
    """The subset size KID uses: ``subset_size``, or the smaller set's size when that is less."""
    return int(min(subset_size, n_1, n_2))


def kid(features_1, features_2, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 2020, second_sums: torch.Tensor | None = None) -> tuple[float, float]:
    """(mean, std) Kernel Inception Distance: torch-fidelity's ``kid_features_to_metric`` (cubic
    polynomial kernel, unbiased estimator, the same subsets), all subsets in batched products.
    Subsets shrink to the smaller set's size when fewer than 1000 samples are given.
    second_sums: the stored :func:`kid_second_sums` of ``features_2`` (same settings)."""
    size = kid_size(len(features_1), len(features_2), subset_size)
    mmds = kid_mmds(features_1, features_2, subsets, size, seed, second_sums).numpy()
    return float(np.mean(mmds)), float(np.std(mmds))
