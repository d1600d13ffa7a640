"""2D Gaussian mixtures: modes captured and % high-quality samples, as VEEGAN and PacGAN define.

A sample is high quality when it lies within 3 standard deviations of its nearest centre; a mode
is captured when it is the nearest centre of at least one high-quality sample (Srivastava et al.
2017, Sec. 5.1; Lin et al. 2018). Hand-written because these definitions are not in any library.
"""
from __future__ import annotations

import torch

#: High-quality radius in standard deviations of the mixture components.
HQ_STDS = 3.0


def mixture_metrics(points: torch.Tensor, centres: torch.Tensor, std: float,
                    hq_stds: float = HQ_STDS) -> dict:
    """Modes captured, share of high-quality samples, and each sample's nearest centre."""
    p = points.double().cpu()
    c = centres.double().cpu()
    d = torch.cdist(p, c)
    dist, nearest = d.min(1)
    hq = dist <= hq_stds * std
    captured = torch.unique(nearest[hq])
    counts = torch.bincount(nearest[hq], minlength=len(c))
    return {
        "modes_captured": int(len(captured)),
        "n_modes": int(len(c)),
        "high_quality": float(hq.double().mean()),
        "hq_counts": counts.tolist(),
        "nearest": nearest,
        "is_hq": hq,
    }
