"""``mnist-lenet``: a small LeNet-style CNN trained on the embedded MNIST digits.

Features are the 128-d penultimate activations (what FID/KID/PRC use), logits the 10-way output
(what IS and class-based mode coverage use). Weights ship in diagnose/weights/mnist_lenet.pt as a
plain state dict (loaded with ``weights_only=True``); ``diagnose features train mnist-lenet``
rebuilds them (see diagnose/features/lenet_training.py).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from diagnose.core.errors import UserError
from diagnose.features.base import Extractor, to_unit_images
from diagnose.features.weights import LENET_WEIGHTS

#: The committed weights, inside the installed package (one path, shared with `features list`).
WEIGHTS = LENET_WEIGHTS
#: Mean and std of MNIST pixels in [0, 1]; inputs are standardised with them.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FEATURE_DIM = 128


class LeNet(nn.Module):
    """Conv(32)x2 -> pool -> Conv(64)x2 -> pool -> Conv(128) -> global avg -> FC 128 -> FC 10.

    Global average pooling keeps the weight file small (~0.6 MB) while the 3x3 conv stack keeps
    held-out accuracy above 97 % on only 4,000 training digits.
    """

    def __init__(self, width: int = 32, feature_dim: int = FEATURE_DIM, num_classes: int = 10):
        super().__init__()

        def block(cin, cout, pad=1):
            return [nn.Conv2d(cin, cout, 3, padding=pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        w = width
        self.body = nn.Sequential(*block(1, w), *block(w, w), nn.MaxPool2d(2),
                                  *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
                                  *block(2 * w, 4 * w, pad=0), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(4 * w, feature_dim), nn.ReLU())
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, 128) of standardised (B, 1, 28, 28) input."""
        return self.fc(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 10)."""
        return self.head(self.drop(self.embed(x)))


def standardise(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] gray images at 28x28 -> the network's input scale."""
    return (x - MNIST_MEAN) / MNIST_STD


def weights_available(path=None) -> tuple[bool, str]:
    """(usable, where) for the lenet weights."""
    from diagnose.features.weights import lenet_available

    return lenet_available(path)


def load_lenet(path=None, device="cpu") -> LeNet:
    """The trained network in eval mode (weights read with weights_only=True)."""
    p = Path(path) if path else WEIGHTS
    if not p.is_file():
        raise UserError(f"mnist-lenet weights not found at {p}: run `diagnose features train mnist-lenet`")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
        net = LeNet()
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except Exception as e:
        raise UserError(f"cannot load mnist-lenet weights {p}: {type(e).__name__}: {e}") from None
    return net.to(device).eval()


def inference_copy(net: LeNet) -> LeNet:
    """A copy of ``net`` for inference: every Conv-BatchNorm pair folded into one convolution
    (torch's ``fuse_conv_bn_eval``; the same function up to float rounding, one pass over each
    activation fewer) and the weights in channels-last layout, oneDNN's native one on the CPU."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fast = copy.deepcopy(net).eval()
    layers, body = [], list(fast.body)
    i = 0
    while i < len(body):
        if (isinstance(body[i], nn.Conv2d) and i + 1 < len(body)
                and isinstance(body[i + 1], nn.BatchNorm2d)):
            layers.append(fuse_conv_bn_eval(body[i], body[i + 1]))
            i += 2
        else:
            layers.append(body[i])
            i += 1
    fast.body = nn.Sequential(*layers)
    for p in fast.parameters():
        p.requires_grad_(False)
    return fast.to(memory_format=torch.channels_last)


def fast_embed(net: LeNet, x: torch.Tensor) -> torch.Tensor:
    """Penultimate features of [0, 1] gray 28x28 images through an ``inference_copy``."""
    return net.embed(standardise(x).contiguous(memory_format=torch.channels_last))


class LeNetExtractor(Extractor):
    """MNIST classifier features: (B, 1 or 3, H, W) in [0, 1] -> 128-d features, 10 logits.

    Colour input is averaged to gray; any resolution is resized to 28x28.
    """

    name = "mnist-lenet"
    dim = FEATURE_DIM
    num_classes = 10
    kind = "image"

    #: Rows per call: small enough that one call's activations (8 MB per layer at 256 rows) stay
    #: near the caches; benchmarks/check_speed.py --features measures the choice.
    infer_batch = 256

    def __init__(self, device="cpu", weights=None, **_):
        super().__init__(device)
        self.net = load_lenet(weights, self.device)
        # Kept out of the instance's attributes so the weights hash (cache key) sees only `net`.
        self._fast = (inference_copy(self.net),)

    def forward(self, x: torch.Tensor):
        """Features, logits and labels of one batch (through the BatchNorm-folded copy)."""
        fast = self._fast[0]
        f = fast_embed(fast, to_unit_images(x, 1, 28))
        logits = fast.head(f)
        return f, logits, logits.argmax(1)
