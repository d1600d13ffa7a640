"""The reference stage: real-data features, statistics and the real-vs-held-out numbers.

Everything a check compares a generator against is computed once per (dataset, extractor
weights, n) and cached: training-set features and mode labels, FID statistics, k-NN radii, the
held-out split's features, and the *reference panel*: every metric of held-out real data against
the training set at the same sample count the generator is judged at. Verdict thresholds are
relative to that panel, so they mean "worse than new real data would be", not a magic constant.
"""
from __future__ import annotations

import functools

import torch

from diagnose.analysis.cache import StageCache, hash_inputs, module_hash
from diagnose.metrics import duplicates as dup
from diagnose.metrics import fidelity, knn, latent, memorization, mixtures, modes

#: Most training samples featurized as the reference (all of MNIST; synthetic sets are drawn).
TRAIN_CAP = 60_000
#: Training-set size drawn for synthetic sets (stacked-mnist, mixtures).
SYNTHETIC_TRAIN = 20_000
#: Most held-out samples used for the reference panel.
HELDOUT_CAP = 10_000
#: k-means bins when the extractor has no classes and the data no centres (NDB uses ~50-100).
KMEANS_BINS = 50
#: Sample count at which every rule compares generated with real data (the embedded MNIST
#: held-out split's size, so every dataset is judged the same way).
JUDGE_N = 1000
#: Fewest expected samples per NDB bin at JUDGE_N: with fewer, the two-proportion test cannot see
#: an empty bin (one expected sample missing is not significant), so a collapsed generator
#: scored a better NDB/K than real data on 1,000 stacked-mnist modes. Modes that are too many
#: for this are replaced, for NDB only, by k-means bins of the training features.
NDB_MIN_EXPECTED = 20
#: Bumped when the panel's protocol changes (cache key).
PANEL_PROTOCOL = 2


def judge_size(n: int, available: int | None = None) -> int:
    """The sample count rules judge at: JUDGE_N, or fewer when fewer are drawn or held out."""
    return int(min(n, JUDGE_N, available if available is not None else n))


def ndb_bin_count(n_modes: int, n_judge: int) -> int | None:
    """k-means bins to use for NDB instead of the modes, or None when the modes are few enough."""
    if n_modes * NDB_MIN_EXPECTED <= n_judge:
        return None
    return max(2, n_judge // NDB_MIN_EXPECTED)


def _batches(ds, idx: torch.Tensor, batch_size: int):
    for i in range(0, len(idx), batch_size):
        yield ds.get(idx[i:i + batch_size])


@functools.lru_cache(maxsize=8)
def load_split(name: str, split: str, *, data_root=None, size=None):
    """A split in the range extractors read: images in [0, 1], points raw.

    Memoized per process: parsing the embedded MNIST text file takes seconds, and a validation
    suite or a training run asks for the same split many times. Callers must not modify it.
    """
    from diagnose.data import load_dataset

    return load_dataset(name, data_root=data_root, split=split, value_range=(0.0, 1.0), size=size)


def _extract(extractor, ds, idx: torch.Tensor, batch_size: int, progress: bool) -> dict:
    """One feature pass over ``ds.get(idx)``; composed data goes through the extractor's shortcut."""
    if ds.index is not None and hasattr(extractor, "extract_composed"):
        return extractor.extract_composed(ds, idx)
    return extractor.extract(_batches(ds, idx, batch_size), progress=progress, total=len(idx))


def mode_source(extractor, ds) -> str:
    """How modes are defined: the extractor's classes, the mixture's centres, or k-means bins."""
    if extractor.num_classes and ds.n_modes == extractor.num_classes:
        return "classifier"
    if ds.centres is not None:
        return "centres"
    return "kmeans"


def reference_panel(ref: dict, held: dict, n: int, k: int) -> dict:
    """Metrics of held-out real features ``held`` against the training reference ``ref``."""
    feats = held["features"]
    r_ref = ref["train_features"][:len(feats)]
    out = {"n": len(feats), "fid": fidelity.fid(feats, ref["fid_stats"])}
    out["kid"] = fidelity.kid(feats, r_ref, subsets=20)[0]
    p = knn.prdc(r_ref, feats, k=k)
    out.update({m: p[m] for m in ("precision", "recall", "density", "coverage")})
    if held.get("logits") is not None:
        out["inception_score"] = fidelity.inception_score(held["logits"])[0]
    mm = modes.mode_metrics(held["mode_labels"], ref["train_counts"], ref["n_modes"],
                            ndb_labels=held.get("ndb_labels"), ndb_ref_counts=ref.get("ndb_counts"))
    mm.pop("histogram")
    out["modes"] = mm
    out["duplicates"] = {k2: v for k2, v in dup.duplicates(feats, ref["dup_threshold"]).items()}
    out["memorization"] = {"copy_share": None, "distance_ratio": 1.0}
    if ref.get("centres") is not None:
        mx = mixtures.mixture_metrics(held["points"], ref["centres"], ref["std"])
        out["mixture"] = {"modes_captured": mx["modes_captured"], "n_modes": mx["n_modes"],
                          "high_quality": mx["high_quality"]}
    out["latent_spread"] = 1.0
    return out


def build_reference(dataset_name: str, extractor, n: int, *, data_root=None, k: int = knn.DEFAULT_K,
                    cache: StageCache | None = None, progress: bool = True,
                    batch_size: int = 500) -> dict:
    """Cached real-data reference for judging ``n`` generated samples with ``extractor``."""
    cache = cache or StageCache()
    train = load_split(dataset_name, "train", data_root=data_root,
                       size=SYNTHETIC_TRAIN if dataset_name not in ("mnist",) else None)
    if dataset_name == "mnist":  # a fixed split: as many held-out digits as there are
        held_ds = load_split(dataset_name, "test", data_root=data_root)
        n_ref = judge_size(n, min(len(held_ds), HELDOUT_CAP))
    else:                        # composed/synthetic: draw the held-out set at the judging n
        n_ref = judge_size(n)
        held_ds = load_split(dataset_name, "test", data_root=data_root, size=n_ref)
    inputs = {"dataset": train.describe(), "heldout": held_ds.describe(), "n": int(n),
              "n_ref": n_ref, "k": k, "extractor": extractor.name,
              "weights": module_hash(extractor), "train_cap": TRAIN_CAP,
              "panel_protocol": PANEL_PROTOCOL}

    def compute() -> dict:
        g = torch.Generator().manual_seed(0)
        t_idx = torch.randperm(len(train), generator=g)[:TRAIN_CAP]
        out = _extract(extractor, train, t_idx, batch_size, progress)
        feats = out["features"]
        src = mode_source(extractor, train)
        centres = train.centres
        n_modes = int(extractor.num_classes if src == "classifier" else
                      len(centres) if src == "centres" else min(KMEANS_BINS, max(2, len(feats) // 20)))
        bins = modes.fit_bins(feats, n_modes) if src == "kmeans" else None
        labels = modes.mode_labels(src, out, feats, centres, bins)
        n_ndb = ndb_bin_count(n_modes, n_ref)
        ndb_bins = modes.fit_bins(feats, n_ndb) if n_ndb else None
        h_idx = torch.arange(n_ref)
        hout = _extract(extractor, held_ds, h_idx, batch_size, progress)
        hout["mode_labels"] = modes.mode_labels(src, hout, hout["features"], centres, bins)
        if ndb_bins is not None:
            hout["ndb_labels"] = modes.assign_bins(hout["features"], ndb_bins)
        if held_ds.kind == "points":
            hout["points"] = held_ds.get(h_idx)
        within = knn.nearest_neighbours(hout["features"], hout["features"], exclude_self=True)[0]
        stats = fidelity.fid_statistics(feats)
        ref = {
            "dataset": train.describe(), "heldout_dataset": held_ds.describe(),
            "extractor": extractor.name, "n": int(n), "n_ref": n_ref, "k": k,
            "train_features": feats, "train_mode_labels": labels,
            "train_counts": torch.as_tensor(modes.histogram(labels, n_modes)),
            "n_modes": n_modes, "mode_source": src, "bins": bins, "ndb_bins": ndb_bins,
            "ndb_counts": (torch.as_tensor(modes.histogram(modes.assign_bins(feats, ndb_bins), n_ndb))
                           if ndb_bins is not None else None),
            "fid_stats": {"mu": torch.as_tensor(stats["mu"]), "sigma": torch.as_tensor(stats["sigma"])},
            "radii": knn.kth_neighbour_radii(feats[:min(n, len(feats))], k),
            "heldout_features": hout["features"], "heldout_mode_labels": hout["mode_labels"],
            "heldout_to_train": knn.nearest_neighbours(hout["features"], feats)[0],
            "dup_threshold": dup.duplicate_threshold(within),
            "real_pair_distance": latent.mean_pair_distance(feats),
            "centres": centres, "std": train.std,
        }
        panel = reference_panel(_np_ref(ref), hout, n, k)
        panel["memorization"] = {
            "copy_share": memorization.memorization(ref["heldout_to_train"],
                                                    ref["heldout_to_train"])["reference_copy_share"],
            "distance_ratio": 1.0}
        ref["panel"] = panel
        return ref

    ref = _np_ref(cache.get_or_compute("reference", inputs, compute))
    # Names this reference for the stages derived from it (KID's real-side sums).
    ref["cache_key"] = hash_inputs({"stage": "reference", **inputs})
    return ref


def _np_ref(ref: dict) -> dict:
    """Convert cached tensors back to the numpy forms the metric functions take."""
    ref = dict(ref)
    ref["fid_stats"] = {k: v.numpy() if torch.is_tensor(v) else v for k, v in ref["fid_stats"].items()}
    for key in ("train_counts", "ndb_counts"):
        tc = ref.get(key)
        ref[key] = tc.numpy() if torch.is_tensor(tc) else tc
    return ref
