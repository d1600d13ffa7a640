"""The extractor registry: what each extractor is called, how to build it, and the default per
dataset (no torch: listing extractors imports nothing heavy; an extractor's module loads only
when it is built).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from diagnose.core.errors import UserError
from diagnose.core.registry import Registry


@dataclass(frozen=True)
class ExtractorSpec:
    """How to build one named extractor, and what it is, without building it.

    name:        registry name, also the name torch-fidelity knows it by
    factory:     callable(device=..., **kw) -> Extractor
    dim:         feature dimension
    num_classes: 10, 1000 or None (no classifier: no IS, no class-based mode coverage)
    kind:        "image" or "points"
    description: one line for ``diagnose features list``
    available:   callable(**kw) -> (bool, reason): can it be built here (weights present)?
    """

    name: str
    factory: Callable[..., Any]
    dim: int
    num_classes: int | None
    kind: str
    description: str
    available: Callable[..., tuple[bool, str]] = lambda **kw: (True, "built in")


#: name -> ExtractorSpec; ``EXTRACTORS.register`` refuses duplicate names.
EXTRACTORS = Registry("feature extractor")


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


def get_extractor(name: str, device: str = "cpu", **kw):
    """Build the extractor called ``name`` on ``device`` (kw: e.g. ``inception_weights=PATH``)."""
    spec = EXTRACTORS.get(name, None)
    if spec is None:
        raise UserError(f"unknown feature extractor {name!r}; choose from {', '.join(EXTRACTORS)}")
    return spec.factory(device=device, **kw)


def default_extractor_for(dataset_name: str | None) -> str:
    """The extractor name used for a dataset when the user names none."""
    return DEFAULT_FOR_DATASET.get(str(dataset_name), "inception-v3")
