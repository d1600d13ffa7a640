"""Feature extractors by name: ``get_extractor("mnist-lenet" | "stacked-mnist" | "inception-v3" | "identity")``.

Every extractor is also registered with torch-fidelity (``register_with_fidelity()``) under the
same name, so FID/IS/KID/PRC computed by torch-fidelity and by us use identical features, and every
metric value can be stored with the extractor's name.
Heavy pieces (trained weights, Inception) load only when an extractor is built.
"""
from __future__ import annotations

from diagnose.core.lazy import lazy_getattr
from diagnose.features.registry import (DEFAULT_FOR_DATASET, EXTRACTORS, ExtractorSpec,  # noqa: F401
                                        default_extractor_for, get_extractor)

# Extractor and to_unit_images need torch: served on first use, so listing extractors stays light.
__getattr__ = lazy_getattr(__name__, {"Extractor": ("diagnose.features.base", "Extractor"),
                                      "to_unit_images": ("diagnose.features.base", "to_unit_images")})


def register_with_fidelity() -> list[str]:
    """Register every extractor with torch-fidelity (idempotent); return the names registered."""
    from diagnose.features.for_torch_fidelity import register_all

    return register_all()


__all__ = ["EXTRACTORS", "Extractor", "ExtractorSpec", "DEFAULT_FOR_DATASET", "get_extractor",
           "default_extractor_for", "register_with_fidelity", "to_unit_images"]
