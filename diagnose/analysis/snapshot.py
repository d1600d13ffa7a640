"""Metrics during training: ``snapshot_evaluator`` returns the callable Monitor.snapshot calls.

The reference (real features, statistics, the real-data panel) and the PCA projection are built
on the first call and cached, so each snapshot costs one generation and one feature pass of
``n_samples``. The returned dict is one evals.jsonl row body: metric entries at the top level,
plus ``mode_histogram`` and a 2-D ``projection`` of real and generated features for the dashboard.
"""
from __future__ import annotations

from typing import Callable

import torch

#: Points per set in the dashboard's projection (keeps evals.jsonl rows small).
PROJECTION_POINTS = 300


def snapshot_evaluator(dataset_name: str, *, features: str | None = None, n_samples: int = 2000,
                       data_root=None, device: str = "cpu", value_range=None,
                       cache=None) -> Callable:
    """A callable(step, G) -> dict of metrics for Monitor.snapshot(evaluate=...).

    dataset_name: the training data; features: extractor name (default: the dataset's)
    n_samples:    generated samples per snapshot; value_range: the data's range (range check)
    """
    state: dict = {}

    def setup():
        from sklearn.decomposition import PCA

        from diagnose.analysis.reference import build_reference
        from diagnose.features import default_extractor_for, get_extractor

        ext = get_extractor(features or default_extractor_for(dataset_name), device)
        ref = build_reference(dataset_name, ext, int(n_samples), data_root=data_root,
                              cache=cache, progress=False)
        real = ref["train_features"]
        g = torch.Generator().manual_seed(0)
        pick = torch.randperm(len(real), generator=g)[:PROJECTION_POINTS]
        dims = min(2, real.shape[1])
        pca = PCA(n_components=dims).fit(real.double().numpy())
        state.update(ext=ext, ref=ref, pca=pca,
                     real_xy=pca.transform(real[pick].double().numpy()).tolist())

    def evaluate(step: int, G) -> dict:
        from diagnose.analysis import rules
        from diagnose.analysis.pipeline import CheckConfig, latent_profile, measure
        from diagnose.loading import wrap_generator
        from diagnose.metrics import ranges

        if not state:
            setup()
        ext, ref = state["ext"], state["ref"]
        dev = next((p.device for p in G.parameters()), torch.device(device))
        loaded = wrap_generator(G, device=str(dev))
        # Fewer KID subsets than a full check: a snapshot is a trend point, not a final number.
        cfg = CheckConfig(n_samples=int(n_samples), seed=int(step) % 100_000, kid_subsets=20)
        batches = list(loaded.sample(cfg.n_samples, batch_size=cfg.batch_size, seed=cfg.seed))
        x = torch.cat(batches)
        ok = torch.isfinite(x.flatten(1)).all(1)
        nonfinite = float((~ok).double().mean())
        rng = ranges.range_check(loaded.output.probe_min, loaded.output.probe_max, value_range) \
            if loaded.output.kind == "image" else None
        row: dict = {}
        measured = prof = None
        if int(ok.sum()) >= max(10, cfg.n_samples // 10):
            good = x[ok]
            out = ext.extract(good.split(cfg.batch_size), progress=False)
            measured = measure(out, ref, cfg, points=good if loaded.output.kind == "points" else None)
            prof = latent_profile(loaded, ext, ref, cfg)
            row.update(rules.metrics_map(measured["full"], ref["panel"], prof, ext.name))
            row["mode_histogram"] = {"features": ext.name,
                                     "generated": measured["full"]["modes"]["histogram"],
                                     "reference": [int(c) for c in ref["train_counts"]]}
            gen = out["features"][:PROJECTION_POINTS].double().numpy()
            row["projection"] = {"method": "pca", "features": ext.name, "real": state["real_xy"],
                                 "generated": state["pca"].transform(gen).tolist()}
        v = rules.verdict_from(subject=f"step {step}", measured=measured, reference=ref,
                               profile=prof, range_info=rng, nonfinite=nonfinite, features=ext.name)
        row["verdict"] = {"code": v["verdict"], "flags": [f["code"] for f in v["flags"]]}
        return row

    return evaluate
