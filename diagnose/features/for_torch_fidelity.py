"""Our extractors registered with torch-fidelity, so ``calculate_metrics(feature_extractor=NAME)``
computes FID, IS, KID and PRC on exactly the features our own metrics use.

torch-fidelity's contract (feature_extractor_base.py): a ``FeatureExtractorBase`` subclass built
as ``cls(name, features_list, **kwargs)``, fed uint8 (B, C, H, W) batches in 0..255, returning a
tuple of the requested feature layers in order. We provide "features" (FID/KID/PRC),
"logits_unbiased" (IS: softmax of these) and "logits".
"""
from __future__ import annotations

import torch
from torch import nn

_REGISTERED: list[str] = []


def _make_class(ext_name: str):
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class Wrapped(FeatureExtractorBase):
        """torch-fidelity view of the ``{ext_name}`` extractor."""

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            from diagnose.features.registry import get_extractor

            kw = {"weights": feature_extractor_weights_path} if feature_extractor_weights_path else {}
            self.ext = get_extractor(ext_name, device="cpu", **kw)
            # Register the network as a submodule so torch-fidelity's .cuda()/.eval() reach it.
            self.net = self.ext.net if isinstance(getattr(self.ext, "net", None), nn.Module) else nn.Identity()

        @staticmethod
        def get_provided_features_list():
            return "features", "logits_unbiased", "logits"

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits_unbiased", "fid": "features", "kid": "features",
                    "prc": "features"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return (torch.rand([1, 3, 28, 28]) * 255).to(torch.uint8)

        def forward(self, x):
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
            with torch.no_grad():
                f, logits, _ = self.ext.forward(x)
            out = {"features": f.float()}
            if any(k != "features" for k in self.features_list):
                if logits is None:
                    raise ValueError(f"{ext_name} has no classes: it cannot give logits (no IS)")
                out["logits_unbiased"] = out["logits"] = logits.float()
            return tuple(out[k] for k in self.features_list)

    Wrapped.__name__ = Wrapped.__qualname__ = "Fidelity_" + ext_name.replace("-", "_")
    return Wrapped


def register_all() -> list[str]:
    """Register every extractor of our registry with torch-fidelity once per process."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    from diagnose.features.registry import EXTRACTORS

    for name in EXTRACTORS:
        if name in FEATURE_EXTRACTORS_REGISTRY:
            continue
        register_feature_extractor(name, _make_class(name))
        _REGISTERED.append(name)
    return [n for n in EXTRACTORS if n in FEATURE_EXTRACTORS_REGISTRY]
