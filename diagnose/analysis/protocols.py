"""The settings of the verdict path: one frozen CheckConfig, and the named protocols its callers
use (torch-free, so the CLI reads its flag defaults from here without importing torch).

A protocol pins the sample count, the latent seed, the KID subsets and the feature extractor,
so two numbers made under one name are comparable.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckConfig:
    """Settings of one check; the defaults are the protocol `diagnose check` uses, and the CLI's
    flag defaults are read from here (see PROTOCOLS for the other callers' named protocols)."""

    n_samples: int = 10_000   # generated samples measured
    k: int = 5                # neighbourhood of precision/recall/density/coverage
    batch_size: int = 500     # generator and extractor batch (results do not depend on it)
    seed: int = 0             # latent seed
    latent_pairs: int = 64    # anchor latents of the latent-distance profile
    kid_subsets: int = 100    # KID subsets (torch-fidelity's default)
    features: str | None = None   # feature extractor name (None: the dataset's default)


#: Named protocols: the settings each caller of the verdict path uses, in one place.
#: "run": a run's final verdict, at the size of the embedded MNIST held-out split (1,000), so
#: generated and real reference numbers are at the same n; "snapshot": a trend point during
#: training; "validate": the ground-truth suite (fewer KID subsets: 15 cases in a row).
PROTOCOLS = {
    "check": CheckConfig(),
    "run": CheckConfig(n_samples=1000, kid_subsets=20),
    "snapshot": CheckConfig(n_samples=2000, kid_subsets=20),
    "validate": CheckConfig(n_samples=2000, kid_subsets=10),
}
