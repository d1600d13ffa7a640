"""Nearest-neighbour memorization: are generated samples closer to the training set than new data?

A generator that copies training images puts its samples at (near) zero distance from their
nearest training sample, while genuinely new real images (the held-out split) sit at the typical
distance of an unseen digit. We compare the two distributions in feature space and count
near-copies with a threshold read off the held-out distances, so the test is relative to how far
real unseen data lies from the training set, not a magic constant.
"""
from __future__ import annotations

import torch

#: Held-out quantile that defines a near-copy: closer to a training sample than 99 % of new data.
COPY_QUANTILE = 0.01


def copy_threshold(heldout_to_train: torch.Tensor, quantile: float = COPY_QUANTILE) -> float:
    """Distance below which a sample counts as a near-copy of a training sample."""
    return float(torch.quantile(heldout_to_train.double().cpu(), quantile))


def memorization(gen_to_train: torch.Tensor, heldout_to_train: torch.Tensor,
                 quantile: float = COPY_QUANTILE) -> dict:
    """Compare generated-to-train with held-out-to-train nearest-neighbour distances.

    gen_to_train:     (n,) distance of each generated sample to its nearest training sample
    heldout_to_train: (m,) the same for held-out real samples (the reference)
    Returns medians, their ratio (about 1 for new data, about 0 for copies), the near-copy
    threshold and the share of near-copies for both sets.
    """
    g = gen_to_train.double().cpu()
    h = heldout_to_train.double().cpu()
    tau = copy_threshold(h, quantile)
    med_g, med_h = float(g.median()), float(h.median())
    return {
        "median_gen_to_train": med_g,
        "median_heldout_to_train": med_h,
        "distance_ratio": med_g / med_h if med_h > 0 else float("nan"),
        "copy_threshold": tau,
        "copy_share": float((g <= tau).double().mean()),
        "reference_copy_share": float((h <= tau).double().mean()),
    }
