"""Latent coverage: how the prior's volume spreads over output modes, and how outputs move with z.

Two views. (1) The effective number of output modes reached from the prior, exp(entropy) of the
generated mode histogram (Hill number of order 1): 10 for a generator spreading evenly over ten
digits, 1 for a collapsed one whatever its nominal "modes hit". (2) Output distance against latent
distance: from anchor latents z_a we move towards independent latents z_b, z(t) = (1-t) z_a + t z_b
at several t, and measure feature distances. A healthy generator's outputs move further as t
grows (high Spearman correlation, output distance at t=1 comparable to the distance between two
real samples); a collapsed one barely moves at any t.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

#: Interpolation fractions between an anchor latent and an independent one.
INTERPOLATION_TS = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their mean rank (scipy.stats.rankdata's default)."""
    a = np.asarray(a)
    ranks = np.empty(len(a), dtype=np.float64)
    ranks[np.argsort(a, kind="mergesort")] = np.arange(1, len(a) + 1)
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=ranks) / counts)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's on average ranks, as scipy.stats.spearmanr computes
    it. Written here because importing scipy.stats costs a check seconds of start-up."""
    rx, ry = average_ranks(x), average_ranks(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def latent_distance_profile(features_of: Callable[[torch.Tensor], torch.Tensor],
                            latents: Callable[[int, int], torch.Tensor], *, n_pairs: int = 64,
                            ts=INTERPOLATION_TS, real_pair_distance: float | None = None,
                            seed: int = 7) -> dict:
    """Feature distance between G(z_a) and G(z(t)) for each t, and its rank correlation with |z_a - z(t)|.

    features_of:        latents -> features (B, d) of the generated samples
    latents:            (n, seed) -> latents from the generator's prior
    real_pair_distance: mean feature distance between two random real samples, to normalise
    """
    za, zb = latents(n_pairs, seed), latents(n_pairs, seed + 1)
    fa = features_of(za).double()
    lat_d, feat_d, per_t = [], [], []
    for t in ts:
        zt = (1.0 - t) * za + t * zb
        ft = features_of(zt).double()
        fd = (ft - fa).norm(dim=1)
        lat_d.append((zt - za).flatten(1).norm(dim=1).double())
        feat_d.append(fd)
        per_t.append(float(fd.mean()))
    lat, feat = torch.cat(lat_d).numpy(), torch.cat(feat_d).numpy()
    finite = np.isfinite(feat)
    rho = float("nan")
    if finite.sum() > 2 and np.ptp(feat[finite]) > 0:
        rho = spearman(lat[finite], feat[finite])
    slope = float(np.polyfit(lat[finite], feat[finite], 1)[0]) if finite.sum() > 2 else float("nan")
    scale = real_pair_distance if real_pair_distance and real_pair_distance > 0 else None
    return {
        "ts": list(ts),
        "feature_distance": per_t,
        "relative_distance": [d / scale for d in per_t] if scale else None,
        # Distance reached between independent latents, relative to two random real samples.
        "spread": per_t[-1] / scale if scale else None,
        "spearman": rho,
        "slope": slope,
        "n_pairs": int(n_pairs),
    }


def mean_pair_distance(features: torch.Tensor, n: int = 500, seed: int = 0) -> float:
    """Mean distance between random pairs of rows (the real data's typical spread)."""
    g = torch.Generator().manual_seed(seed)
    m = len(features)
    i, j = torch.randint(0, m, (n,), generator=g), torch.randint(0, m, (n,), generator=g)
    keep = i != j
    return float((features[i[keep]].double() - features[j[keep]].double()).norm(dim=1).mean())
