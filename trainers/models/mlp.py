"""MLP generators and discriminators: report 000 (MNIST) and the 2D mixture benchmark."""
from __future__ import annotations

import torch
import torch.nn as nn

from trainers.losses import MinibatchDiscrimination
from trainers.models.parts import MODELS, head_layer


@MODELS.register("mlp_g", role="generator", source="000")
class MLPGenerator(nn.Module):
    """Report 000's G: Linear 100->256->512->1024 with LeakyReLU(0.2), head Linear(1024, 784) + Tanh.

    wide_head=True is the report's best fix: Linear(1024, 2048) + ReLU + Linear(2048, 784) + Tanh.
    The output is reshaped to (N, 1, 28, 28): a view of the same 784 numbers, so image tools work.
    """

    def __init__(self, latent_dim: int = 100, out_shape=(1, 28, 28), wide_head: bool = False):
        super().__init__()
        self.latent_shape = (int(latent_dim),)
        self.out_shape = tuple(out_shape)
        n_out = 1
        for s in self.out_shape:
            n_out *= int(s)
        layers = [nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2),
                  nn.Linear(256, 512), nn.LeakyReLU(0.2),
                  nn.Linear(512, 1024), nn.LeakyReLU(0.2)]
        if wide_head:
            layers += [nn.Linear(1024, 2048), nn.ReLU(), nn.Linear(2048, n_out)]
        else:
            layers += [nn.Linear(1024, n_out)]
        self.net = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.flatten(1)).view(-1, *self.out_shape)


@MODELS.register("mlp_d", role="discriminator", source="000")
class MLPDiscriminator(nn.Module):
    """Report 000's D: Linear 784->1024->512->256->1, LeakyReLU(0.2) + Dropout(0.3) after each
    hidden layer, Sigmoid head. minibatch_disc adds a minibatch-discrimination layer (50 kernels of
    5 dims) between the last hidden layer and the output, the report's third fix."""

    def __init__(self, in_features: int = 784, head: str = "sigmoid", minibatch_disc: bool = False,
                 dropout: float = 0.3):
        super().__init__()
        dims = [in_features, 1024, 512, 256]
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers)
        self.mbd = MinibatchDiscrimination(256, 50, 5) if minibatch_disc else None
        self.out = nn.Linear(256 + (50 if minibatch_disc else 0), 1)
        self.head = head_layer(head)

    def forward(self, x: torch.Tensor, features: bool = False):
        f = self.body(x.flatten(1))
        h = self.mbd(f) if self.mbd is not None else f
        out = self.head(self.out(h)).view(-1)
        return (out, f) if features else out


@MODELS.register("mixture_g", role="generator", source="benchmark")
class MixtureGenerator(nn.Module):
    """Vanilla-GAN G of the 2D mixture benchmark, after Unrolled GAN / VEEGAN (Metz et al. 2017,
    app. A; Srivastava et al. 2017): z 256-d N(0, I) -> Linear 128 ReLU -> Linear 128 ReLU ->
    Linear 2 (no output non-linearity: points are raw coordinates)."""

    def __init__(self, latent_dim: int = 256, hidden: int = 128, out_dim: int = 2):
        super().__init__()
        self.latent_shape = (int(latent_dim),)
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@MODELS.register("mixture_d", role="discriminator", source="benchmark")
class MixtureDiscriminator(nn.Module):
    """Vanilla-GAN D of the mixture benchmark: 2 -> Linear 128 ReLU -> Linear 128 ReLU -> 1."""

    def __init__(self, in_features: int = 2, hidden: int = 128, head: str = "logits"):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, 1)
        self.head = head_layer(head)

    def forward(self, x: torch.Tensor, features: bool = False):
        f = self.body(x.flatten(1))
        out = self.head(self.out(f)).view(-1)
        return (out, f) if features else out
