"""CSPup generator and DCGAN-style discriminator of reports 001 (64x64) and 004 (128x128).

Report 001 describes the CSPup block exactly; channel widths, where BatchNorm sits and the
discriminator's widths are not given. Choices (also written into each variant's description):
- G starts from a 4x4 map of ``base_channels`` channels and halves the channels at each block
  (64x64: 4 blocks, 128x128: 5 blocks); base_channels=256 at 64x64 and 128x128.
- Between blocks: BatchNorm2d + activation (the DCGAN convention; trial 3 of 001 "removed
  BatchNorm", so it must have been somewhere, and 004 trial 5 adds BatchNorm *inside* the block).
- D: conv k4 s2 p1 with ndf=64 doubling up to 512, BatchNorm (not on the first conv, as DCGAN),
  LeakyReLU(0.2), last conv k4 s1 p0 to one output at 4x4.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from trainers.models.parts import MODELS, activation, head_layer


def _up(ch: int, mode: str) -> nn.Module:
    """x2 upsampling keeping ``ch`` channels: ConvTranspose2d(k4, s2, p1), or Upsample + 3x3 conv."""
    if mode == "convtranspose":
        return nn.ConvTranspose2d(ch, ch, 4, 2, 1)
    if mode in ("nearest", "bilinear"):
        up = nn.Upsample(scale_factor=2, mode=mode, **({"align_corners": False} if mode == "bilinear" else {}))
        return nn.Sequential(up, nn.Conv2d(ch, ch, 3, 1, 1))
    raise ValueError(f"upsample must be convtranspose, nearest or bilinear, got {mode!r}")


class CSPup(nn.Module):
    """CSPup block (report 001): split channels in halves; short branch = up(x1); long branch =
    1x1 conv, act, up, 3x3 conv, act, 3x3 conv on x2; output = short + long (2x size, half channels).

    norm=True puts BatchNorm2d after the 1x1 and the first 3x3 conv (report 004 trial 5);
    act='leaky' is report 004 trial 6 / part of 001 trial 3.
    """

    def __init__(self, in_ch: int, upsample: str = "convtranspose", act: str = "relu",
                 norm: bool = False):
        super().__init__()
        h = in_ch // 2
        bn = (lambda: nn.BatchNorm2d(h)) if norm else (lambda: nn.Identity())
        self.short = _up(h, upsample)
        self.long = nn.Sequential(nn.Conv2d(h, h, 1), bn(), activation(act), _up(h, upsample),
                                  nn.Conv2d(h, h, 3, 1, 1), bn(), activation(act),
                                  nn.Conv2d(h, h, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return self.short(x1) + self.long(x2)


@MODELS.register("cspup_g", role="generator", source="001/004")
class CSPupGenerator(nn.Module):
    """Stack of CSPup blocks from a 4x4 map to ``resolution``, 3x3 conv to 3 channels, Tanh.

    noise="matrix": the latent IS the 4x4 map, shape (base_channels, 4, 4) (001 trials 1-3);
    noise="vector": a 100-d vector projected by Linear to the 4x4 map (001 trial 4).
    stage_norm/stage_act/stage_dropout act between blocks (001 trial 3 flips all three);
    block_upsample/block_act/block_norm act inside the blocks.
    """

    def __init__(self, resolution: int = 64, base_channels: int = 256, out_channels: int = 3,
                 noise: str = "matrix", latent_dim: int = 100, block_upsample: str = "convtranspose",
                 block_act: str = "relu", block_norm: bool = False, stage_norm: bool = True,
                 stage_act: str = "relu", stage_dropout: float = 0.0):
        super().__init__()
        n_blocks = int(math.log2(resolution // 4))
        if 4 * 2 ** n_blocks != resolution:
            raise ValueError(f"resolution must be 4 * 2^k, got {resolution}")
        if base_channels >> n_blocks < 1:
            raise ValueError("base_channels too small for the number of blocks")

        def stage(ch: int) -> list[nn.Module]:
            mods = [nn.BatchNorm2d(ch)] if stage_norm else []
            mods.append(activation(stage_act))
            if stage_dropout:
                mods.append(nn.Dropout2d(stage_dropout))
            return mods

        self.noise = noise
        if noise == "matrix":
            self.latent_shape = (base_channels, 4, 4)
            self.project = nn.Identity()
            layers: list[nn.Module] = []
        elif noise == "vector":
            self.latent_shape = (int(latent_dim),)
            self.project = nn.Linear(latent_dim, base_channels * 16)
            layers = stage(base_channels)
        else:
            raise ValueError(f"noise must be 'matrix' or 'vector', got {noise!r}")
        self.base_channels = base_channels
        ch = base_channels
        for _ in range(n_blocks):
            layers.append(CSPup(ch, block_upsample, block_act, block_norm))
            ch //= 2
            layers += stage(ch)
        layers += [nn.Conv2d(ch, out_channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.noise == "vector":
            z = self.project(z.flatten(1)).view(-1, self.base_channels, 4, 4)
        return self.net(z)


@MODELS.register("dcgan_style_d", role="discriminator", source="001/004")
class DCGANStyleDiscriminator(nn.Module):
    """DCGAN-style D: conv(k4, s2, p1) blocks down to 4x4 (64x64: 4 convs, 128x128: 5), widths
    ndf doubling up to 8*ndf, BatchNorm except on the first, LeakyReLU(0.2), last conv k4 s1 p0 to
    one output, then the head (Sigmoid for BCELoss, none for logits).

    avgpool=True (report 004 trial 4): the second conv block is replaced by AvgPool2d(2), which
    halves the size without parameters, so the later blocks see half the channels: a smaller D.
    """

    def __init__(self, resolution: int = 64, in_channels: int = 3, ndf: int = 64,
                 head: str = "sigmoid", avgpool: bool = False):
        super().__init__()
        n_down = int(math.log2(resolution // 4))
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for i in range(1, n_down):
            if avgpool and i == 1:
                layers.append(nn.AvgPool2d(2))
                continue
            nxt = min(ch * 2, ndf * 8)
            layers += [nn.Conv2d(ch, nxt, 4, 2, 1, bias=False), nn.BatchNorm2d(nxt),
                       nn.LeakyReLU(0.2, True)]
            ch = nxt
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(ch, 1, 4, 1, 0)
        self.head = head_layer(head)

    def forward(self, x: torch.Tensor, features: bool = False):
        f = self.body(x)
        out = self.head(self.out(f)).view(-1)
        return (out, f.flatten(1)) if features else out
