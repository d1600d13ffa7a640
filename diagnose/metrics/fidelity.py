"""FID, IS and KID computed by torch-fidelity's own functions on features we already extracted.

We never let torch-fidelity run its own extraction pass: the check extracts features, logits and
labels in one pass and hands the tensors to ``fid_features_to_statistics`` /
``fid_statistics_to_metric``, ``isc_features_to_metric`` and ``kid_features_to_metric``, so the
numbers are torch-fidelity's to the last digit while every sample is fed through the network once.
"""
from __future__ import annotations

import numpy as np
import torch

#: torch-fidelity's defaults for KID (subsets of 1000, 100 subsets), shrunk when n is smaller.
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100


def _cpu64(x) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.detach().to("cpu", torch.float64)


def fid_statistics(features) -> dict:
    """Mean and covariance of ``features`` (torch-fidelity's ``fid_features_to_statistics``)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    return fid_features_to_statistics(_cpu64(features))


def fid_from_statistics(stats_1: dict, stats_2: dict) -> float:
    """Frechet distance between two statistics dicts (torch-fidelity's formula)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    s1 = {k: np.asarray(v, dtype=np.float64) for k, v in stats_1.items()}
    s2 = {k: np.asarray(v, dtype=np.float64) for k, v in stats_2.items()}
    if not np.all(np.isfinite(s1["sigma"])) or not np.all(np.isfinite(s1["mu"])):
        return float("nan")
    return float(fid_statistics_to_metric(s1, s2, verbose=False)[KEY_METRIC_FID])


def fid(features_1, features_2_or_stats) -> float:
    """FID between generated features and real features (or cached real statistics)."""
    s2 = features_2_or_stats if isinstance(features_2_or_stats, dict) else fid_statistics(
        features_2_or_stats)
    return fid_from_statistics(fid_statistics(features_1), s2)


def inception_score(logits, splits: int = 10, seed: int = 2020) -> tuple[float, float]:
    """(mean, std) Inception Score from class logits (torch-fidelity's ``isc_features_to_metric``)."""
    from torch_fidelity.metric_isc import (KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD,
                                           isc_features_to_metric)

    logits = _cpu64(logits)
    splits = max(1, min(int(splits), len(logits)))
    out = isc_features_to_metric(logits, splits=splits, shuffle=True, rng_seed=seed)
    return float(out[KEY_METRIC_ISC_MEAN]), float(out[KEY_METRIC_ISC_STD])


def kid(features_1, features_2, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 2020) -> tuple[float, float]:
    """(mean, std) Kernel Inception Distance (torch-fidelity's ``kid_features_to_metric``, cubic
    polynomial kernel), on float32 features as torch-fidelity's own extraction produces them.
    Subsets shrink to the smaller set's size when fewer than 1000 samples are given."""
    from torch_fidelity.metric_kid import (KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD,
                                           kid_features_to_metric)

    f1, f2 = _cpu64(features_1).float(), _cpu64(features_2).float()
    size = int(min(subset_size, len(f1), len(f2)))
    out = kid_features_to_metric(f1, f2, kid_subsets=int(subsets), kid_subset_size=size,
                                 rng_seed=seed, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])
