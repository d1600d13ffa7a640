"""Training of the ``mnist-lenet`` weights on the embedded MNIST digits, with augmentation.

Trains on the 4,000-digit train split, reports accuracy on the 1,000 held-out test digits, and
writes a plain state dict. Deterministic for a given seed on a given machine (seeded data order,
seeded augmentation, seeded init). Augmentation is a batched random affine warp (rotation, scale,
shear, shift) done with ``affine_grid``: one call per batch, no per-image Python.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LeNetTrainConfig:
    """Settings of one training run."""

    epochs: int = 20          # passes over the 4,000 training digits
    batch_size: int = 64      # digits per step
    lr: float = 3e-3          # peak AdamW learning rate (one-cycle schedule)
    weight_decay: float = 5e-4  # AdamW decoupled weight decay
    rotate_deg: float = 12.0  # max rotation of the augmentation
    scale: float = 0.12       # max relative zoom in or out
    shear: float = 0.15       # max shear (fraction)
    shift_px: float = 2.5     # max translation in pixels (of 28)
    label_smoothing: float = 0.0  # none: smoothing caps the softmax, so IS of real digits could not reach ~10
    seed: int = 0             # seeds init, data order and augmentation
    train_size: int | None = None  # use only the first N training digits (quick checks); None = all


def random_affine(x: torch.Tensor, cfg: LeNetTrainConfig, g: torch.Generator) -> torch.Tensor:
    """A random small affine warp of each image in the batch (bilinear, zero padding)."""
    b = x.shape[0]
    u = lambda: torch.rand(b, generator=g) * 2 - 1  # noqa: E731 - uniform in [-1, 1]
    a = u() * math.radians(cfg.rotate_deg)
    s = 1 + u() * cfg.scale
    sh = u() * cfg.shear
    tx, ty = u() * cfg.shift_px * 2 / 28, u() * cfg.shift_px * 2 / 28
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    theta = torch.stack([torch.stack([cos, -sin + sh, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def accuracy(net, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    """Share of ``x`` ([0, 1] digits) that ``net`` classifies as ``y``."""
    from diagnose.features.mnist_lenet import standardise

    net.eval()
    right = 0
    for i in range(0, len(x), batch):
        right += int((net(standardise(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum())
    return right / len(x)


def train_lenet(cfg: LeNetTrainConfig = LeNetTrainConfig(), progress: bool = True) -> tuple:
    """Train on the embedded train split; return (net, held-out accuracy, seconds)."""
    from tqdm import tqdm

    from diagnose.data.sources import mnist_digits
    from diagnose.features.mnist_lenet import LeNet, standardise

    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    xtr, ytr, _ = mnist_digits(None, "train")
    xte, yte, _ = mnist_digits(None, "test")
    if cfg.train_size:
        xtr, ytr = xtr[:cfg.train_size], ytr[:cfg.train_size]
    xtr, xte = xtr.float() / 255, xte.float() / 255
    net = LeNet()
    steps_per_epoch = math.ceil(len(xtr) / cfg.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs,
                                                steps_per_epoch=steps_per_epoch)
    t0 = time.time()
    bar = tqdm(range(cfg.epochs), desc="train mnist-lenet", file=sys.stderr, disable=not progress)
    for _ in bar:
        net.train()
        order = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            x = random_affine(xtr[idx], cfg, g)
            loss = F.cross_entropy(net(standardise(x)), ytr[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    acc = accuracy(net, xte, yte)
    return net.eval(), acc, time.time() - t0


def save_weights(net, path) -> int:
    """Write the state dict (float32, plain tensors) atomically; return the file size in bytes."""
    from diagnose.core.atomic import atomic_torch_save

    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    p = atomic_torch_save(path, state)
    p.chmod(0o644)  # a package data file, readable by every user (mkstemp creates 0600)
    return p.stat().st_size
