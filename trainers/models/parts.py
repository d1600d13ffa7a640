"""What every architecture is built from: the model registry and the shared layers.

Each registered model records its ``role`` ("generator" | "discriminator") and the report it
comes from. The architectures (mlp, cspup, dcgan) register themselves here when imported;
``trainers.models`` imports them all.
"""
from __future__ import annotations

import torch.nn as nn

from diagnose.core.registry import Registry

MODELS = Registry("model")


def head_layer(head: str) -> nn.Module:
    """The output non-linearity of a discriminator: Sigmoid for BCELoss, none for logits."""
    if head == "sigmoid":
        return nn.Sigmoid()
    if head == "logits":
        return nn.Identity()
    raise ValueError(f"head must be 'sigmoid' or 'logits', got {head!r}")


def activation(name: str) -> nn.Module:
    """relu | leaky (LeakyReLU 0.2, the DCGAN slope)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leaky":
        return nn.LeakyReLU(0.2, inplace=True)
    raise ValueError(f"activation must be 'relu' or 'leaky', got {name!r}")


def init_weights(module: nn.Module, scheme: str) -> None:
    """'dcgan': conv/linear weights N(0, 0.02), biases 0, BatchNorm weights N(1, 0.02) (DCGAN paper,
    report 003); 'default': PyTorch's own initialisation (report 000 states none)."""
    if scheme == "default":
        return
    if scheme != "dcgan":
        raise ValueError(f"init must be 'dcgan' or 'default', got {scheme!r}")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
