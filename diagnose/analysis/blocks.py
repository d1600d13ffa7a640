"""Judged statistics: generated samples measured in blocks of the reference panel's size.

Every rule compares a generated statistic with the same statistic of held-out real data. Most of
them change with the sample count: the share of samples with a near-duplicate grows with n for
any generator of finite support, effective modes and modes hit grow with n towards the number of
modes, k-NN precision and recall move with the neighbourhood radii, NDB's test gains power. So
the rules judge at one size, the panel's n (``reference.JUDGE_N``): the generated samples are cut
into disjoint blocks of that size, each block is measured exactly as the panel was (against a
training subset of the same size), and the block values are averaged. The expected value of
every judged statistic is then the same at n = 1,000, 5,000 or 10,000; a larger n only lowers
its variance. The birthday support estimate pools colliding pairs over the blocks (the same
estimator with more pairs).
"""
from __future__ import annotations

import math

import torch

from diagnose.metrics import duplicates as dup
from diagnose.metrics import fidelity, knn, mixtures, modes

#: Most blocks measured (10 x 1,000 = the default 10,000 samples of `diagnose check`).
MAX_BLOCKS = 10


def block_count(n: int, n_block: int) -> int:
    """How many disjoint blocks of ``n_block`` samples ``n`` samples give (at least 1)."""
    return max(1, min(MAX_BLOCKS, n // max(1, n_block)))


def one_block(feats, labels, ndb_labels, points, ref: dict, k: int, shared: dict | None = None) -> dict:
    """The panel's statistics for one block of generated samples (features, mode labels...).

    shared: this block's k-NN statistics ({"prdc", "duplicates"}) when a pass over all samples
    already computed them (metrics.neighbours)."""
    nb = len(feats)
    train = ref["train_features"][:nb]
    out = {"n": nb, "fid": fidelity.fid(feats, ref["fid_stats"])}
    p = shared["prdc"] if shared else knn.prdc(train, feats, k=k)
    out.update({m: p[m] for m in ("precision", "recall", "density", "coverage")})
    out["duplicates"] = shared["duplicates"] if shared else dup.duplicates(feats, ref["dup_threshold"])
    mm = modes.mode_metrics(labels, ref["train_counts"], ref["n_modes"], ndb_labels=ndb_labels,
                            ndb_ref_counts=ref.get("ndb_counts") if ndb_labels is not None else None)
    mm.pop("histogram")
    out["modes"] = mm
    if points is not None and ref.get("centres") is not None:
        mx = mixtures.mixture_metrics(points, ref["centres"], ref["std"])
        out["mixture"] = {k2: mx[k2] for k2 in ("modes_captured", "n_modes", "high_quality")}
    return out


def _mean(values):
    vals = [float(v) for v in values if v is not None]
    finite = [v for v in vals if math.isfinite(v)]
    if not vals:
        return None
    return sum(finite) / len(finite) if len(finite) == len(vals) else float("inf")


def average(blocks: list[dict]) -> dict:
    """Mean of each statistic over blocks; the support estimate pools the colliding pairs."""
    first = blocks[0]
    out = {"n": first["n"], "blocks": len(blocks)}
    for key in ("fid", "precision", "recall", "density", "coverage"):
        out[key] = _mean(b[key] for b in blocks)
    dd = [b["duplicates"] for b in blocks]
    pairs = sum(d["duplicate_pairs"] for d in dd)
    total = sum(d["n"] * (d["n"] - 1) // 2 for d in dd)
    out["duplicates"] = {
        "duplicate_rate": _mean(d["duplicate_rate"] for d in dd),
        "distinct_outputs": _mean(d["distinct_outputs"] for d in dd),
        "duplicate_pairs": pairs,
        "support_estimate": total / pairs if pairs else float("inf"),
        "support_lower_bound": total if not pairs else None,
        "threshold": dd[0]["threshold"], "n": first["n"],
    }
    mm = {key: _mean(b["modes"][key] for b in blocks)
          for key in ("modes_hit", "kl", "ndb", "ndb_k", "effective_modes")}
    mm.update({"n_modes": first["modes"]["n_modes"], "ndb_bins": first["modes"]["ndb_bins"]})
    out["modes"] = mm
    if "mixture" in first:
        out["mixture"] = {"modes_captured": _mean(b["mixture"]["modes_captured"] for b in blocks),
                          "n_modes": first["mixture"]["n_modes"],
                          "high_quality": _mean(b["mixture"]["high_quality"] for b in blocks)}
    return out


def judged(feats, labels, ndb_labels, points, ref: dict, k: int,
           shared_blocks: list | None = None) -> dict:
    """Statistics of ``feats`` at the panel's n: the mean over disjoint blocks of that size.

    shared_blocks: each block's k-NN statistics, already computed (metrics.neighbours)."""
    n = len(feats)
    nb = int(min(n, int(ref["n_ref"])))
    blocks = []
    for b in range(block_count(n, nb)):
        sl = slice(b * nb, (b + 1) * nb)
        blocks.append(one_block(feats[sl], labels[sl],
                                ndb_labels[sl] if ndb_labels is not None else None,
                                points[sl] if points is not None else None, ref, k,
                                shared_blocks[b] if shared_blocks else None))
    out = average(blocks)
    out["n_total"] = n
    return out


def ndb_labels_for(ref: dict, feats: torch.Tensor):
    """NDB bin of each generated sample when the reference uses coarser NDB bins, else None."""
    bins = ref.get("ndb_bins")
    return modes.assign_bins(feats, bins) if bins is not None else None
