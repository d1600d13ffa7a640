"""``inception-v3``: torch-fidelity's InceptionV3 (the network behind every published FID).

The weights cannot be downloaded here (and users may be offline), so the extractor is built only
when the weights file is present: at torch-fidelity's own cache path (where torch.hub puts it) or
at a path given with ``inception_weights=PATH`` / ``--inception-weights PATH``. Otherwise a
UserError says where to put the file and the URL torch-fidelity would fetch it from.
The file is first read with ``weights_only=True`` (torch-fidelity itself unpickles it fully),
so a tampered file cannot run code.
"""
from __future__ import annotations

from pathlib import Path

import torch

from diagnose.core.errors import UserError
from diagnose.features.base import Extractor, to_unit_images


def fidelity_url() -> str:
    """The URL torch-fidelity downloads the InceptionV3 weights from."""
    from diagnose.features.weights import INCEPTION_URL

    return INCEPTION_URL


def cache_path() -> Path:
    """Where torch-fidelity (torch.hub) caches the weights: <hub dir>/checkpoints/<file name>."""
    from diagnose.features.weights import inception_cache_path

    return inception_cache_path()


def weights_available(path=None) -> tuple[bool, str]:
    """(present, where or what is missing)."""
    from diagnose.features.weights import inception_available

    return inception_available(path)


def resolve_weights(path=None) -> Path:
    """The weights file to use, or a UserError telling the user how to get it."""
    p = Path(path) if path else cache_path()
    if not p.is_file():
        raise UserError(f"inception-v3 weights not found at {p}; offline, download {fidelity_url()} "
                        f"on a connected machine and copy it to {cache_path()} or pass "
                        "--inception-weights PATH (or use --features mnist-lenet)")
    try:
        torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{p} is not a readable InceptionV3 state dict ({type(e).__name__})") from None
    return p


class InceptionExtractor(Extractor):
    """(B, C, H, W) in [0, 1] -> 2048-d pool features and 1008 unbiased logits (torch-fidelity's)."""

    name = "inception-v3"
    dim = 2048
    num_classes = 1008
    kind = "image"

    def __init__(self, device="cpu", inception_weights=None, weights=None, **_):
        super().__init__(device)
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        p = resolve_weights(inception_weights or weights)
        self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                               feature_extractor_weights_path=str(p)).to(self.device)

    def forward(self, x: torch.Tensor):
        """Quantise to uint8 as torch-fidelity expects, then pool features and logits."""
        x = to_unit_images(x, 3, x.shape[-1])
        u8 = (x * 255).round().clamp(0, 255).to(torch.uint8)
        f, logits = self.net(u8)
        return f, logits, logits.argmax(1)
