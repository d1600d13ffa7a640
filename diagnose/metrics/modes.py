"""Mode coverage: which modes of the data the samples reach, and how evenly.

Modes are the classes of a classifier (MNIST digits, the 1000 stacked-MNIST triples) or, when the
extractor has no classifier, k-means bins of the real features (scikit-learn), as NDB does
(Richardson & Weiss 2018). From one histogram of generated modes we report: modes hit, KL of the
generated histogram to the reference histogram, and NDB/K, the share of bins whose generated
proportion differs from the real one under a two-proportion z-test at alpha 0.05.

NDB needs bins that hold enough samples: with 1,000 modes and 1,000 samples, one expected sample
per bin, an empty bin is never significant and only over-full bins count, so a generator stuck on
three modes scores about 3/1000 while real data, whose bins fluctuate, scores more. The caller
therefore passes coarser NDB bins (``ndb_labels``) when the modes are too many for n (see
``analysis.reference.ndb_bin_count``).
"""
from __future__ import annotations

import math

import numpy as np
import torch

#: Significance level of NDB's two-proportion test.
NDB_ALPHA = 0.05
#: Pseudo-count added to each reference bin so a bin empty in the reference keeps KL finite.
REFERENCE_PSEUDOCOUNT = 0.5


def fit_bins(real_features: torch.Tensor, k: int = 50, seed: int = 0) -> torch.Tensor:
    """k-means centres of the real features (the NDB bins); returns (k, d) centres."""
    from sklearn.cluster import KMeans

    x = real_features.double().cpu().numpy()
    km = KMeans(n_clusters=min(k, len(x)), n_init=3, random_state=seed).fit(x)
    return torch.from_numpy(km.cluster_centers_).float()


def assign_bins(features: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest k-means centre of each row (chunked through the k-NN helper)."""
    from diagnose.metrics.knn import nearest_neighbours

    return nearest_neighbours(features.float(), centres.to(features.device).float())[1]


def histogram(labels: torch.Tensor, n_modes: int) -> np.ndarray:
    """Counts per mode (length n_modes)."""
    return torch.bincount(labels.long().cpu(), minlength=n_modes)[:n_modes].numpy()


def kl_to_reference(gen_counts: np.ndarray, ref_counts: np.ndarray) -> float:
    """KL(generated || reference) in nats, the reference smoothed by a half count per bin."""
    p = gen_counts / max(1, gen_counts.sum())
    q = (ref_counts + REFERENCE_PSEUDOCOUNT) / (ref_counts.sum() + REFERENCE_PSEUDOCOUNT * len(ref_counts))
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def two_sided_normal_p(z: np.ndarray) -> np.ndarray:
    """2 * P(N(0,1) > |z|) through erfc (scipy.stats' ``2 * norm.sf(|z|)``, the same values):
    importing scipy.stats costs a check seconds of start-up for this one line."""
    import torch

    return torch.special.erfc(torch.from_numpy(np.abs(np.asarray(z, dtype=np.float64)))
                              / math.sqrt(2.0)).numpy()


def ndb(gen_counts: np.ndarray, ref_counts: np.ndarray, alpha: float = NDB_ALPHA) -> dict:
    """Number of statistically different bins (two-proportion z-test), and NDB/K."""
    n1, n2 = gen_counts.sum(), ref_counts.sum()
    p1, p2 = gen_counts / n1, ref_counts / n2
    pooled = (gen_counts + ref_counts) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p1 - p2) / se, 0.0)
    pval = two_sided_normal_p(z)
    different = int(np.sum(pval < alpha))
    return {"ndb": different, "ndb_k": different / len(gen_counts)}


def mode_metrics(gen_labels: torch.Tensor, ref_counts: np.ndarray, n_modes: int,
                 ndb_labels: torch.Tensor | None = None,
                 ndb_ref_counts: np.ndarray | None = None) -> dict:
    """Modes hit, KL to the reference, NDB/K and effective number of modes of generated labels.

    ndb_labels / ndb_ref_counts: coarser bins for NDB (same samples), used instead of the modes
    when given; ``ndb_bins`` says how many bins NDB/K is over.
    """
    g = histogram(gen_labels, n_modes)
    if ndb_labels is not None and ndb_ref_counts is not None:
        ndb_out = ndb(histogram(ndb_labels, len(ndb_ref_counts)), np.asarray(ndb_ref_counts))
        bins = len(ndb_ref_counts)
    else:
        ndb_out, bins = ndb(g, np.asarray(ref_counts)), int(n_modes)
    return {
        "modes_hit": int((g > 0).sum()),
        "n_modes": int(n_modes),
        "kl": kl_to_reference(g, np.asarray(ref_counts)),
        **ndb_out,
        "ndb_bins": bins,
        "effective_modes": effective_modes(g),
        "histogram": g.tolist(),
    }


def effective_modes(counts) -> float:
    """exp(Shannon entropy) of a histogram: the number of equally likely modes it amounts to."""
    c = np.asarray(counts, dtype=np.float64)
    p = c[c > 0] / max(c.sum(), 1e-12)
    return float(math.exp(-np.sum(p * np.log(p)))) if len(p) else 0.0


def mode_labels(source: str, out: dict, feats: torch.Tensor, centres=None, bins=None) -> torch.Tensor:
    """The mode of each sample: the extractor's class ("classifier"), the nearest mixture centre
    ("centres"), or the nearest k-means bin ("kmeans"), as the reference defined modes."""
    if source == "classifier":
        return out["labels"]
    if source == "centres":
        from diagnose.metrics.knn import nearest_neighbours

        return nearest_neighbours(feats.float(), centres.float())[1]
    return assign_bins(feats, bins)
