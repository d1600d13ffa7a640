"""The check pipeline: samples -> features (one pass) -> metrics -> verdict.

``measure`` turns one feature pass over generated samples into every metric, both at the full n
and at the held-out reference's n ("matched": the numbers the rules compare with the reference
panel, since k-NN metrics, FID and mode counts all depend on n). The whole chain (reference,
sampling, this, the rules) is ``diagnose.analysis.judge.judge_generator``, the one verdict path;
``check_generator`` is its keyword form.
"""
from __future__ import annotations


import torch

from diagnose.analysis.cache import StageCache
# The settings live in a torch-free module so the CLI reads its flag defaults from them cheaply.
from diagnose.analysis.protocols import CheckConfig
from diagnose.metrics import fidelity, knn, latent, memorization, mixtures, modes
from diagnose.metrics.neighbours import neighbour_statistics


def _kid_real_sums(ref: dict, real: torch.Tensor, n: int, cfg: CheckConfig,
                   cache: StageCache | None):
    """KID's real-side kernel sums for n generated samples, from the stage cache when the
    reference is a cached one (they depend on the real features and the sizes only)."""
    key = ref.get("cache_key")
    if cache is None or not cache.enabled or not key:
        return None
    size = fidelity.kid_size(n, len(real))
    inputs = {"reference": key, "n_1": int(n), "n_2": len(real), "subsets": int(cfg.kid_subsets),
              "size": size, "seed": 2020}
    got = cache.get_or_compute("kid_real", inputs, lambda: {"sums": fidelity.kid_second_sums(
        real, n, cfg.kid_subsets, size)})
    return got["sums"]


def measure(out: dict, ref: dict, cfg: CheckConfig, points: torch.Tensor | None = None,
            cache: StageCache | None = None) -> dict:
    """Every metric of generated features ``out`` (features/logits/labels) against ``ref``.

    cache: where KID's real-side sums are kept with the reference (None: computed here).

    Returns {"full": {...}, "matched": {...}}: full uses all n samples (the numbers shown);
    matched is what the rules judge: statistics at the reference panel's n (``JUDGE_N``), the
    mean over disjoint blocks of that size (analysis.blocks), so the headline does not depend on n.
    """
    from diagnose.analysis import blocks

    feats = out["features"]
    labels = modes.mode_labels(ref["mode_source"], out, feats, ref.get("centres"), ref.get("bins"))
    ndb_labels = blocks.ndb_labels_for(ref, feats)
    train = ref["train_features"]
    n = len(feats)
    res = {"n": n, "fid": fidelity.fid(feats, ref["fid_stats"])}
    r_n = train[:min(n, len(train))]
    radii = ref["radii"] if len(ref["radii"]) == len(r_n) else None
    # Every k-NN statistic, full and per judged block, from one pass over the distance blocks.
    nb = int(min(n, int(ref["n_ref"])))
    shared = neighbour_statistics(r_n, feats, k=cfg.k, dup_threshold=ref["dup_threshold"],
                                  real_radii=radii, block=nb, n_blocks=blocks.block_count(n, nb))
    p = shared["prdc"]
    res.update({m: p[m] for m in ("precision", "recall", "density", "coverage")})
    if len(r_n) >= 2 and n >= 2:
        res["kid"] = fidelity.kid(feats, r_n, subsets=cfg.kid_subsets,
                                  second_sums=_kid_real_sums(ref, r_n, n, cfg, cache))[0]
    if out.get("logits") is not None:
        res["inception_score"] = fidelity.inception_score(out["logits"])[0]
    gen_to_train = p["nn_dist"] if len(r_n) == len(train) else knn.nearest_neighbours(feats, train)[0]
    res["memorization"] = memorization.memorization(gen_to_train, ref["heldout_to_train"])
    res["duplicates"] = shared["duplicates"]
    res["modes"] = modes.mode_metrics(labels, ref["train_counts"], ref["n_modes"],
                                      ndb_labels=ndb_labels, ndb_ref_counts=ref.get("ndb_counts"))
    if points is not None and ref.get("centres") is not None:
        mx = mixtures.mixture_metrics(points, ref["centres"], ref["std"])
        res["mixture"] = {k: mx[k] for k in ("modes_captured", "n_modes", "high_quality", "hq_counts")}
    matched = blocks.judged(feats, labels, ndb_labels, points, ref, cfg.k,
                            shared_blocks=shared["blocks"])
    matched["memorization"] = res["memorization"]   # shares and medians: already n-free
    return {"full": res, "matched": matched}


class FiniteStream:
    """Generated batches with non-finite rows dropped, produced as the extractor asks for them.

    Only features outlive a batch (50,000 RGB 64x64 images would be 2.4 GB held at once); kept
    besides: the first raw batch (the sample grid) and, for 2D points, the points themselves.
    """

    def __init__(self, loaded, n: int, cfg: CheckConfig, keep_points: bool):
        self.loaded, self.n, self.cfg, self.keep_points = loaded, n, cfg, keep_points
        self.bad, self.ok, self.first, self.points, self.done = 0, 0, None, [], False

    def __iter__(self):
        for x in self.loaded.sample(self.n, batch_size=self.cfg.batch_size, seed=self.cfg.seed):
            if self.first is None:
                self.first = x
            finite = torch.isfinite(x.flatten(1)).all(1)
            if not bool(finite.all()):
                self.bad += int((~finite).sum())
                x = x[finite]
            if len(x):
                self.ok += len(x)
                if self.keep_points:
                    self.points.append(x)
                yield x
        self.done = True


def latent_profile(loaded, extractor, ref: dict, cfg: CheckConfig) -> dict:
    """Output-vs-latent distance profile of ``loaded`` in ``extractor`` features."""
    return latent.latent_distance_profile(
        lambda z: extractor.features(loaded.generate(z)), loaded.latents,
        n_pairs=cfg.latent_pairs, real_pair_distance=ref["real_pair_distance"], seed=cfg.seed + 7)
