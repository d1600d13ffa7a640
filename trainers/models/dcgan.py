"""DCGAN generators/discriminators of report 002 (MNIST 64x64) and report 003 (MNIST 28x28).

Output sizes follow ConvTranspose2d: out = (in - 1) * stride - 2 * padding + kernel, and Conv2d:
out = floor((in + 2 * padding - kernel) / stride) + 1.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from trainers.models.parts import MODELS, head_layer


def _gblock(a: int, b: int, k: int, s: int, p: int, bias: bool = False) -> list[nn.Module]:
    return [nn.ConvTranspose2d(a, b, k, s, p, bias=bias), nn.BatchNorm2d(b), nn.ReLU(True)]


def _dblock(a: int, b: int, k: int, s: int, p: int, bn: bool = True, bias: bool = False) -> list[nn.Module]:
    return [nn.Conv2d(a, b, k, s, p, bias=bias)] + ([nn.BatchNorm2d(b)] if bn else []) + \
        [nn.LeakyReLU(0.2, True)]


class _ConvD(nn.Module):
    """A conv body, an output layer and a head; ``features=True`` also returns the body's output."""

    def forward(self, x: torch.Tensor, features: bool = False):
        f = self.body(x)
        out = self.head(self.out(f)).view(-1)
        return (out, f.flatten(1)) if features else out


@MODELS.register("dcgan64_g", role="generator", source="002")
class DCGAN64Generator(nn.Module):
    """Report 002's G: 5 ConvTranspose2d 100 -> 1024 -> 512 -> 256 -> 128 -> out_channels, k4,
    first s1 p0 (1 -> 4), then s2 p1 (4 -> 8 -> 16 -> 32 -> 64), BatchNorm + ReLU, Tanh."""

    def __init__(self, latent_dim: int = 100, out_channels: int = 1):
        super().__init__()
        self.latent_shape = (int(latent_dim), 1, 1)
        self.net = nn.Sequential(*_gblock(latent_dim, 1024, 4, 1, 0), *_gblock(1024, 512, 4, 2, 1),
                                 *_gblock(512, 256, 4, 2, 1), *_gblock(256, 128, 4, 2, 1),
                                 nn.ConvTranspose2d(128, out_channels, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(-1, *self.latent_shape))


@MODELS.register("dcgan64_shallow_g", role="generator", source="002")
class DCGAN64ShallowGenerator(nn.Module):
    """Report 002's changed G: 3 ConvTranspose2d, kernel 5 except the last, stride 3 padding 0 in
    the 2nd and 3rd. Sizes: 1 -> 5 (k5 s1 p0) -> 17 ((5-1)*3 + 5) -> 64 ((17-1)*3 + k with k = 16).
    The report's numbers do not reach 64 exactly; the last kernel 16 is our choice so that they do.
    Widths keep the base's first two (1024, 512): the report only says layers were cut."""

    def __init__(self, latent_dim: int = 100, out_channels: int = 1):
        super().__init__()
        self.latent_shape = (int(latent_dim), 1, 1)
        self.net = nn.Sequential(*_gblock(latent_dim, 1024, 5, 1, 0), *_gblock(1024, 512, 5, 3, 0),
                                 nn.ConvTranspose2d(512, out_channels, 16, 3, 0, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(-1, *self.latent_shape))


@MODELS.register("dcgan64_d", role="discriminator", source="002")
class DCGAN64Discriminator(_ConvD):
    """Report 002's D: Conv in->64 (k4 s2 p1) LeakyReLU; blocks 64->128->256->512 with BatchNorm and
    LeakyReLU(0.2) (64 -> 32 -> 16 -> 8 -> 4); last Conv 512->1 (k4 s2 p0, 4 -> 1); Sigmoid.

    kernel=5 is the shallow variant's D ("kernel 5 everywhere but G's last layer"): padding 2 keeps
    the sizes 64 -> 32 -> 16 -> 8 -> 4, and the last conv k5 s2 p1 maps 4 -> 1 (our choice: k5 p0
    cannot apply to a 4x4 map)."""

    def __init__(self, in_channels: int = 1, head: str = "sigmoid", kernel: int = 4):
        super().__init__()
        k, p = kernel, (1 if kernel == 4 else kernel // 2)
        self.body = nn.Sequential(*_dblock(in_channels, 64, k, 2, p, bn=False), *_dblock(64, 128, k, 2, p),
                                  *_dblock(128, 256, k, 2, p), *_dblock(256, 512, k, 2, p))
        self.out = nn.Conv2d(512, 1, k, 2, 0 if kernel == 4 else 1, bias=False)
        self.head = head_layer(head)


@MODELS.register("dcgan28_g", role="generator", source="003")
class DCGAN28Generator(nn.Module):
    """Report 003's G: input (N, nz, 1, 1); ConvTranspose2d nz->256 (k3 s2: 1 -> 3), 256->128
    (k4 s1: 3 -> 6), 128->64 (k3 s2: 6 -> 13), each BatchNorm + ReLU, then 64->out (k4 s2: 13 -> 28)
    + Tanh. out_channels=3 for stacked-mnist."""

    def __init__(self, latent_dim: int = 64, out_channels: int = 1):
        super().__init__()
        self.latent_shape = (int(latent_dim), 1, 1)
        self.net = nn.Sequential(*_gblock(latent_dim, 256, 3, 2, 0, True), *_gblock(256, 128, 4, 1, 0, True),
                                 *_gblock(128, 64, 3, 2, 0, True), nn.ConvTranspose2d(64, out_channels, 4, 2, 0),
                                 nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(-1, *self.latent_shape))


@MODELS.register("dcgan28_d", role="discriminator", source="003")
class DCGAN28Discriminator(_ConvD):
    """Report 003's D: Conv(in->16, k3 s2: 28 -> 13), Conv(16->32, k5 s2: 13 -> 5), Conv(32->64,
    k5 s2: 5 -> 1), each BatchNorm + LeakyReLU(0.2); Flatten; Linear(64, 1) logit."""

    def __init__(self, in_channels: int = 1, head: str = "logits"):
        super().__init__()
        self.body = nn.Sequential(*_dblock(in_channels, 16, 3, 2, 0, bias=True), *_dblock(16, 32, 5, 2, 0, bias=True),
                                  *_dblock(32, 64, 5, 2, 0, bias=True), nn.Flatten())
        self.out = nn.Linear(64, 1)
        self.head = head_layer(head)
