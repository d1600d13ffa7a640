"""The check pipeline: samples -> features (one pass) -> metrics -> verdict.

``measure`` turns one feature pass over generated samples into every metric, both at the full n
and at the held-out reference's n ("matched": the numbers the rules compare with the reference
panel, since k-NN metrics, FID and mode counts all depend on n). ``check_generator`` runs the
whole chain for a LoadedGenerator and returns the verdict dict.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import torch

from diagnose.analysis.cache import StageCache
from diagnose.analysis.reference import build_reference
from diagnose.errors import UserError
from diagnose.metrics import duplicates as dup
from diagnose.metrics import fidelity, knn, latent, memorization, mixtures, modes, ranges


@dataclass(frozen=True)
class CheckConfig:
    """Knobs of one check (defaults are the protocol `diagnose check` uses)."""

    n_samples: int = 10_000   # generated samples measured
    k: int = knn.DEFAULT_K    # neighbourhood of precision/recall/density/coverage
    batch_size: int = 500     # generator and extractor batch (results do not depend on it)
    seed: int = 0             # latent seed
    latent_pairs: int = 64    # anchor latents of the latent-distance profile
    kid_subsets: int = 100    # KID subsets (torch-fidelity's default)


def _labels_for(ref: dict, out: dict, feats: torch.Tensor) -> torch.Tensor:
    src = ref["mode_source"]
    if src == "classifier":
        return out["labels"]
    if src == "centres":
        return knn.nearest_neighbours(feats.float(), ref["centres"].float())[1]
    return modes.assign_bins(feats, ref["bins"])


def measure(out: dict, ref: dict, cfg: CheckConfig, points: torch.Tensor | None = None) -> dict:
    """Every metric of generated features ``out`` (features/logits/labels) against ``ref``.

    Returns {"full": {...}, "matched": {...}}: full uses all n samples (the numbers shown);
    matched is what the rules judge: statistics at the reference panel's n (``JUDGE_N``), the
    mean over disjoint blocks of that size (analysis.blocks), so the headline does not depend on n.
    """
    from diagnose.analysis import blocks

    feats = out["features"]
    labels = _labels_for(ref, out, feats)
    ndb_labels = blocks.ndb_labels_for(ref, feats)
    train = ref["train_features"]
    n = len(feats)
    res = {"n": n, "fid": fidelity.fid(feats, ref["fid_stats"])}
    r_n = train[:min(n, len(train))]
    radii = ref["radii"] if len(ref["radii"]) == len(r_n) else None
    p = knn.prdc(r_n, feats, k=cfg.k, real_radii=radii)
    res.update({m: p[m] for m in ("precision", "recall", "density", "coverage")})
    if len(r_n) >= 2 and n >= 2:
        res["kid"] = fidelity.kid(feats, r_n, subsets=cfg.kid_subsets)[0]
    if out.get("logits") is not None:
        res["inception_score"] = fidelity.inception_score(out["logits"])[0]
    gen_to_train = p["nn_dist"] if len(r_n) == len(train) else knn.nearest_neighbours(feats, train)[0]
    res["memorization"] = memorization.memorization(gen_to_train, ref["heldout_to_train"])
    res["duplicates"] = dup.duplicates(feats, ref["dup_threshold"])
    res["modes"] = modes.mode_metrics(labels, ref["train_counts"], ref["n_modes"],
                                      ndb_labels=ndb_labels, ndb_ref_counts=ref.get("ndb_counts"))
    if points is not None and ref.get("centres") is not None:
        mx = mixtures.mixture_metrics(points, ref["centres"], ref["std"])
        res["mixture"] = {k: mx[k] for k in ("modes_captured", "n_modes", "high_quality", "hq_counts")}
    matched = blocks.judged(feats, labels, ndb_labels, points, ref, cfg.k)
    matched["memorization"] = res["memorization"]   # shares and medians: already n-free
    return {"full": res, "matched": matched}


def generate_all(loaded, n: int, cfg: CheckConfig):
    """Generate n samples in batches; returns (batches list, share of samples with NaN/inf)."""
    batches, bad = [], 0
    for x in loaded.sample(n, batch_size=cfg.batch_size, seed=cfg.seed):
        finite = torch.isfinite(x.flatten(1)).all(1)
        bad += int((~finite).sum())
        batches.append(x)
    return batches, bad / max(1, n)


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


def check_generator(loaded, dataset_name: str, *, features: str | None = None,
                    n_samples: int = 10_000, data_root=None, seed: int = 0, device: str = "cpu",
                    progress: bool = True, value_range=None, cache: StageCache | None = None,
                    extractor=None, subject: str | None = None, extractor_kwargs: dict | None = None,
                    return_samples: bool = False, kid_subsets: int = 100):
    """Measure ``loaded`` against ``dataset_name`` and return the verdict dict.

    value_range: the range the real data was trained in (from a checkpoint's config), for the
    range check; None skips it. extractor: an already built extractor (else ``features`` names
    one, default the dataset's). return_samples: also return the first generated batch.
    kid_subsets: KID subsets (torch-fidelity's 100 by default; fewer for quick suites).
    """
    from diagnose.analysis import rules
    from diagnose.features import default_extractor_for, get_extractor

    cfg = CheckConfig(n_samples=int(n_samples), seed=int(seed), kid_subsets=int(kid_subsets))
    if extractor is None:
        extractor = get_extractor(features or default_extractor_for(dataset_name), device,
                                  **(extractor_kwargs or {}))
    note = (lambda m: print(m, file=sys.stderr)) if progress else (lambda m: None)
    note(f"reference: {dataset_name} with {extractor.name} features (cached after the first run)")
    ref = build_reference(dataset_name, extractor, cfg.n_samples, data_root=data_root,
                          cache=cache, progress=progress)
    note(f"sampling {cfg.n_samples:,} from the generator")
    # Sampling streams into the feature pass (see FiniteStream): memory grows with features only.
    stream = FiniteStream(loaded, cfg.n_samples, cfg, keep_points=loaded.output.kind == "points")
    try:
        out = extractor.extract(iter(stream), progress=progress, total=cfg.n_samples)
    except UserError:
        if not stream.done or stream.ok:   # a real failure, not "every sample was NaN"
            raise
        out = None
    n_ok = stream.ok
    nonfinite = stream.bad / max(1, cfg.n_samples)
    raw = {"lo": loaded.output.probe_min, "hi": loaded.output.probe_max}
    rng = ranges.range_check(raw["lo"], raw["hi"], value_range) if loaded.output.kind == "image" \
        else None
    measured, profile = None, None
    if out is not None and n_ok >= max(10, cfg.n_samples // 10):  # enough finite samples
        points = torch.cat(stream.points) if loaded.output.kind == "points" else None
        stream.points = []
        note("computing metrics")
        measured = measure(out, ref, cfg, points=points)
        profile = latent_profile(loaded, extractor, ref, cfg)
    verdict = rules.verdict_from(
        subject=subject or str(getattr(loaded, "path", None) or "generator"),
        measured=measured, reference=ref, profile=profile, range_info=rng,
        nonfinite=nonfinite, features=extractor.name,
        extra={"loading": loaded.describe(), "dataset": ref["dataset"].get("source"),
               "dataset_summary": ref["dataset"]})
    if return_samples:
        return verdict, stream.first
    return verdict


def finite_or_none(x):
    """A float, or None for NaN/inf (JSON-friendly)."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None
