"""Data augmentation on the device, registered by name (``TrainConfig.augment``).

Augmentations act on a whole batch already on the device (one ``affine_grid`` + ``grid_sample``)
and draw their randomness from the loop's noise generator, so a resumed run repeats them exactly.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from diagnose.core.registry import Registry

AUGMENTS = Registry("augmentation")


def _affine(x: torch.Tensor, value_range, gen: torch.Generator, max_deg: float,
            max_shift: float, flip: bool = False) -> torch.Tensor:
    """Random rotation (+-max_deg), translation (+-max_shift px) and optional h-flip per sample.

    Pixels that come from outside the image are black (the range's low end), as torchvision's
    RandomRotation fills with 0 on [0, 1] images.
    """
    n, dev = x.shape[0], x.device
    u = torch.rand(n, 3, generator=gen, device=dev) * 2 - 1
    ang = u[:, 0] * math.radians(max_deg)
    h, w = x.shape[-2:]
    tx, ty = u[:, 1] * (2 * max_shift / w), u[:, 2] * (2 * max_shift / h)
    cos, sin = ang.cos(), ang.sin()
    sx = torch.ones(n, device=dev)
    if flip:
        sx = torch.where(torch.rand(n, generator=gen, device=dev) < 0.5, -sx, sx)
    theta = torch.stack([torch.stack([cos * sx, -sin, tx], 1), torch.stack([sin * sx, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    lo = float(value_range[0]) if value_range else 0.0
    return F.grid_sample(x - lo, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + lo


@AUGMENTS.register("none")
def no_augment(x, value_range, gen):
    """No augmentation."""
    return x


@AUGMENTS.register("rotate20")
def rotate20(x, value_range, gen):
    """RandomRotation(-20, 20) as report 003's pipeline, done on the batch on the device."""
    return _affine(x, value_range, gen, max_deg=20.0, max_shift=0.0)


@AUGMENTS.register("shift_rotate")
def shift_rotate(x, value_range, gen):
    """Rotation +-10 degrees and shift +-2 px: the 'data augmentation' fix tried in report 000."""
    return _affine(x, value_range, gen, max_deg=10.0, max_shift=2.0)


def augment(name: str):
    """The augmentation function registered as ``name``: f(x, value_range, generator) -> x."""
    return AUGMENTS.get(name)
