"""Where each extractor's weights live, and whether they are there: answered without torch.

``diagnose features list`` only needs to know whether a file exists, so this module imports
nothing heavy; the extractors themselves (diagnose/features/mnist_lenet.py, inception.py) use the
same paths when they load the weights.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

#: The committed mnist-lenet weights, inside the installed package.
LENET_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "mnist_lenet.pt"
#: torch-fidelity's InceptionV3 weights URL (tests/test_speed_imports.py checks it equals
#: ``torch_fidelity.feature_extractor_inceptionv3.URL_INCEPTION_V3``; importing that module to
#: read it would import torch-fidelity's whole package, torchvision included).
INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")


def lenet_available(path=None) -> tuple[bool, str]:
    """(usable, where) for the mnist-lenet weights."""
    p = Path(path) if path else LENET_WEIGHTS
    return (p.is_file(), str(p) if p.is_file() else
            f"missing {p} (run: diagnose features train mnist-lenet)")


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()``: $TORCH_HOME/hub, $TORCH_HOME defaulting to $XDG_CACHE_HOME/torch
    (~/.cache/torch); read from torch itself when it is already imported (``set_dir`` counts)."""
    hub = sys.modules.get("torch.hub")
    if hub is not None:
        return Path(hub.get_dir())
    xdg = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(xdg, "torch")))
    return Path(home) / "hub"


def inception_cache_path() -> Path:
    """Where torch-fidelity (torch.hub) caches the weights: <hub dir>/checkpoints/<file name>."""
    return torch_hub_dir() / "checkpoints" / os.path.basename(INCEPTION_URL)


def inception_available(path=None) -> tuple[bool, str]:
    """(present, where or what is missing) for the InceptionV3 weights."""
    p = Path(path) if path else inception_cache_path()
    if p.is_file():
        return True, str(p)
    return False, f"missing {p} (download {INCEPTION_URL})"
