"""Feature extractors by name: ``get_extractor("mnist-lenet" | "stacked-mnist" | "inception-v3" | "identity")``.

Every extractor is also registered with torch-fidelity (``register_with_fidelity()``) under the
same name, so FID/IS/KID/PRC computed by torch-fidelity and by us use identical features, and every
metric value can be stored with the extractor's name.
Heavy pieces (trained weights, Inception) load only when an extractor is built.
"""
from __future__ import annotations

from diagnose.core.errors import UserError
from diagnose.features.registry import ExtractorSpec, Registry
from diagnose.core.lazy import lazy_getattr

# Extractor and to_unit_images need torch: served on first use, so listing extractors stays light.
__getattr__ = lazy_getattr(__name__, {"Extractor": ("diagnose.features.base", "Extractor"),
                                      "to_unit_images": ("diagnose.features.base", "to_unit_images")})

#: name -> ExtractorSpec; ``EXTRACTORS.register`` refuses duplicate names.
EXTRACTORS = Registry()


def _identity(device="cpu", **kw):
    from diagnose.features.identity import IdentityExtractor

    return IdentityExtractor(device=device, **kw)


def _lenet(device="cpu", **kw):
    from diagnose.features.mnist_lenet import LeNetExtractor

    return LeNetExtractor(device=device, **kw)


def _stacked(device="cpu", **kw):
    from diagnose.features.stacked import StackedMnistExtractor

    return StackedMnistExtractor(device=device, **kw)


def _inception(device="cpu", **kw):
    from diagnose.features.inception import InceptionExtractor

    return InceptionExtractor(device=device, **kw)


def _lenet_available(**kw):
    from diagnose.features.weights import lenet_available

    return lenet_available(kw.get("weights"))


def _inception_available(**kw):
    from diagnose.features.weights import inception_available

    return inception_available(kw.get("inception_weights"))


EXTRACTORS.register(ExtractorSpec(
    "mnist-lenet", _lenet, 128, 10, "image",
    "LeNet-style CNN trained on the embedded MNIST (penultimate 128-d features, 10 classes)",
    _lenet_available))
EXTRACTORS.register(ExtractorSpec(
    "stacked-mnist", _stacked, 384, 1000, "image",
    "mnist-lenet on each of R, G, B: concatenated 3x128-d features, 1000 modes (100R+10G+B)",
    _lenet_available))
EXTRACTORS.register(ExtractorSpec(
    "inception-v3", _inception, 2048, 1008, "image",
    "torch-fidelity's InceptionV3 (2048-d pool features, 1008 logits as torch-fidelity's IS uses)",
    _inception_available))
EXTRACTORS.register(ExtractorSpec(
    "identity", _identity, 2, None, "points", "the coordinates of 2D points themselves"))

#: dataset name -> the extractor a check uses by default
DEFAULT_FOR_DATASET = {"mnist": "mnist-lenet", "stacked-mnist": "stacked-mnist",
                       "stacked_mnist": "stacked-mnist", "ring8": "identity", "grid25": "identity"}


def get_extractor(name: str, device: str = "cpu", **kw) -> Extractor:
    """Build the extractor called ``name`` on ``device`` (kw: e.g. ``inception_weights=PATH``)."""
    spec = EXTRACTORS.get(name)
    if spec is None:
        raise UserError(f"unknown feature extractor {name!r}; choose from {', '.join(EXTRACTORS)}")
    return spec.factory(device=device, **kw)


def default_extractor_for(dataset_name: str | None) -> str:
    """The extractor name used for a dataset when the user names none."""
    return DEFAULT_FOR_DATASET.get(str(dataset_name), "inception-v3")


def register_with_fidelity() -> list[str]:
    """Register every extractor with torch-fidelity (idempotent); return the names registered."""
    from diagnose.features.for_torch_fidelity import register_all

    return register_all()


__all__ = ["EXTRACTORS", "Extractor", "ExtractorSpec", "DEFAULT_FOR_DATASET", "get_extractor",
           "default_extractor_for", "register_with_fidelity", "to_unit_images"]
