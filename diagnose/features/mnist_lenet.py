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
    activation fewer), the weights in channels-last layout, oneDNN's native one on the CPU, and
    each Conv+ReLU run as one oneDNN call where that works (``fused_relu``, see ``_body``)."""
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
    fast = fast.to(memory_format=torch.channels_last)
    fast.fused_relu = _fusion_works(fast)
    return fast


def _conv_relu_op():
    """oneDNN's convolution with the ReLU applied inside the same kernel (the op torch's own CPU
    compiler emits for Conv+ReLU), or None in a build without it."""
    mkldnn = getattr(torch.ops, "mkldnn", None)
    try:
        return mkldnn._convolution_pointwise if mkldnn is not None else None
    except (AttributeError, RuntimeError):
        return None


def _body(net: LeNet, h: torch.Tensor) -> torch.Tensor:
    """``net.body(h)``, each Conv+ReLU pair as one fused call when ``net.fused_relu``: the ReLU
    then costs no extra pass over the largest activations (a sixth of the pass on the CPU)."""
    layers = list(net.body)
    fused = getattr(net, "fused_relu", False)
    i = 0
    while i < len(layers):
        m = layers[i]
        if (fused and isinstance(m, nn.Conv2d) and i + 1 < len(layers)
                and isinstance(layers[i + 1], nn.ReLU)):
            h = _conv_relu_op()(h, m.weight, m.bias, m.padding, m.stride, m.dilation, m.groups,
                                "relu", [], "")
            i += 2
        else:
            h = m(h)
            i += 1
    return h


def _fusion_works(net: LeNet) -> bool:
    """Whether the fused Conv+ReLU runs here (CPU, oneDNN present) and gives the plain layers'
    numbers on a probe batch; anywhere else the plain layers run."""
    w = next(net.parameters())
    if w.device.type != "cpu" or _conv_relu_op() is None or not torch.backends.mkldnn.is_available():
        return False
    x = standardise(torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    x = x.contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            plain = net.body(x)
            net.fused_relu = True
            fused = _body(net, x)
    except (RuntimeError, TypeError, NotImplementedError):
        return False
    finally:
        net.fused_relu = False
    return bool(torch.allclose(plain, fused, atol=1e-5, rtol=1e-5))


def fast_embed(net: LeNet, x: torch.Tensor) -> torch.Tensor:
    """Penultimate features of [0, 1] gray 28x28 images through an ``inference_copy``."""
    return net.fc(_body(net, standardise(x).contiguous(memory_format=torch.channels_last)))


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
