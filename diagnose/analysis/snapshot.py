"""Metrics during training: ``snapshot_evaluator`` returns the callable Monitor.snapshot calls.

The reference (real features, statistics, the real-data panel) and the PCA projection are built
on the first call and cached, so each snapshot costs one generation and one feature pass of
``n_samples``. The returned dict is one evals.jsonl row body: metric entries at the top level,
plus ``mode_histogram`` and a 2-D ``projection`` of real and generated features for the dashboard.
"""
from __future__ import annotations

from typing import Callable

import torch

from diagnose.analysis.protocols import PROTOCOLS

#: Points per set in the dashboard's projection (keeps evals.jsonl rows small).
PROJECTION_POINTS = 300


def snapshot_evaluator(dataset_name: str, *, features: str | None = None,
                       n_samples: int = PROTOCOLS["snapshot"].n_samples,
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
        from dataclasses import replace

        from diagnose.analysis.judge import judge_generator
        from diagnose.analysis.protocols import PROTOCOLS
        from diagnose.generators.load import wrap_generator

        if not state:
            setup()
        ext, ref = state["ext"], state["ref"]
        dev = next((p.device for p in G.parameters()), torch.device(device))
        loaded = wrap_generator(G, device=str(dev))
        # A snapshot is a trend point, not a final number: the "snapshot" protocol.
        cfg = replace(PROTOCOLS["snapshot"], n_samples=int(n_samples), seed=int(step) % 100_000)
        j = judge_generator(loaded, cfg, dataset=dataset_name, value_range=value_range,
                            data_root=data_root, device=str(dev), extractor=ext, reference=ref,
                            subject=f"step {step}")
        v = j.verdict
        row: dict = {}
        if j.measured is not None:
            row.update(v["metrics"])
            row["mode_histogram"] = {"features": ext.name,
                                     "generated": j.measured["full"]["modes"]["histogram"],
                                     "reference": [int(c) for c in ref["train_counts"]]}
            gen = j.features["features"][:PROJECTION_POINTS].double().numpy()
            row["projection"] = {"method": "pca", "features": ext.name, "real": state["real_xy"],
                                 "generated": state["pca"].transform(gen).tolist()}
        row["verdict"] = {"code": v["verdict"], "flags": [f["code"] for f in v["flags"]]}
        return row

    return evaluate
