"""The ground-truth suite behind ``diagnose validate``: generators built in code with known truth.

Each case is an nn.Module mapping standard-normal latents to samples, wrapped by the same loader
``diagnose check`` uses, and judged by the same pipeline and rules. Image cases draw on the
embedded MNIST splits: "fresh" images are random affine warps of HELD-OUT digits (never seen by
the reference's training set), copies are exact TRAINING digits.

Ten blurry class means are expected to be ``mode_collapse``: the generator has exactly ten
distinct outputs whatever the latent, which is the defining symptom; that they are also unlike
real digits is reported as a second flag (not_converged), but fixing diversity comes first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

#: Latent size of every image case.
LATENT = 16


def _pick(z: torch.Tensor, n: int) -> torch.Tensor:
    """An index in [0, n) from the first latent coordinate, uniform under the prior."""
    u = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2)))
    return (u * n).long().clamp_(0, n - 1)


class Pick(nn.Module):
    """Outputs one of a fixed set of images, chosen by the latent (duplicates, copies, means)."""

    def __init__(self, images: torch.Tensor, out_range=(-1.0, 1.0)):
        super().__init__()
        lo, hi = out_range
        self.register_buffer("images", images * (hi - lo) + lo)  # images given in [0, 1]
        self.latent_shape = (LATENT,)

    def forward(self, z):
        return self.images[_pick(z, len(self.images))]


class Warp(nn.Module):
    """A random affine warp (rotation, scale, shift from the latent) of one of a set of digits."""

    def __init__(self, images: torch.Tensor, out_range=(-1.0, 1.0), strength: float = 1.0):
        super().__init__()
        self.register_buffer("images", images)
        self.lo, self.hi = out_range
        self.s = strength
        self.latent_shape = (LATENT,)

    def forward(self, z):
        x = self.images[_pick(z, len(self.images))]
        ang = 0.2 * self.s * torch.tanh(z[:, 1])                 # up to ~11 degrees
        scale = 1.0 + 0.08 * self.s * torch.tanh(z[:, 2])
        tx, ty = 0.08 * self.s * torch.tanh(z[:, 3]), 0.08 * self.s * torch.tanh(z[:, 4])
        c, s = torch.cos(ang) / scale, torch.sin(ang) / scale
        theta = torch.stack([torch.stack([c, -s, tx], 1), torch.stack([s, c, ty], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        y = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
        return y * (self.hi - self.lo) + self.lo


class Noise(nn.Module):
    """Uniform pixel noise in [-1, 1]: nothing like digits."""

    def __init__(self):
        super().__init__()
        self.latent_shape = (LATENT,)
        self.proj = nn.Linear(LATENT, 784)
        nn.init.normal_(self.proj.weight, std=3.0)

    def forward(self, z):
        return torch.tanh(self.proj(z)).reshape(-1, 1, 28, 28)


class OneDigitAmongNoise(nn.Module):
    """ONE held-out digit for a share ``real`` of the latents, pixel noise for the rest: a
    generator that is partly realistic and has collapsed where it is (a noise-matrix CSPup run
    at 2,500 steps: precision 0.43, 7 effective modes against real data's 567)."""

    def __init__(self, image: torch.Tensor, real: float = 0.4):
        super().__init__()
        self.digit, self.noise, self.real = Pick(image[None]), Noise(), real
        self.latent_shape = (LATENT,)

    def forward(self, z):
        u = 0.5 * (1 + torch.erf(z[:, 5] / math.sqrt(2)))
        keep = (u < self.real).view(-1, 1, 1, 1)
        return torch.where(keep, self.digit(z), self.noise(z))


class Blend(nn.Module):
    """``bad`` for a share ``share`` of the latents (chosen by the 6th coordinate), ``good`` for
    the rest: a good generator mixed with a collapsed, copying or noisy one."""

    def __init__(self, good: nn.Module, bad: nn.Module, share: float):
        super().__init__()
        self.good, self.bad, self.share = good, bad, float(share)
        self.latent_shape = (LATENT,)

    def forward(self, z):
        u = 0.5 * (1 + torch.erf(z[:, 5] / math.sqrt(2)))
        keep = (u < self.share).view(-1, 1, 1, 1)
        return torch.where(keep, self.bad(z), self.good(z))


class Noisy(nn.Module):
    """``base`` plus pixel noise of standard deviation ``sigma`` (in [-1, 1] units), clamped.

    The noise is a deterministic function of the latent (sines of a fixed random projection at
    a high frequency), so the generator is a function like any other, and nearly independent
    from pixel to pixel."""

    def __init__(self, base: nn.Module, sigma: float, size: int = 784):
        super().__init__()
        self.base, self.sigma = base, float(sigma)
        g = torch.Generator().manual_seed(11)
        self.register_buffer("w", torch.randn(LATENT, size, generator=g) * 1000.0)
        self.register_buffer("b", torch.rand(size, generator=g) * 2 * math.pi)
        self.latent_shape = (LATENT,)

    def forward(self, z):
        x = self.base(z)
        e = math.sqrt(2.0) * torch.sin(z @ self.w + self.b).view_as(x)
        return (x + self.sigma * e).clamp(-1.0, 1.0)


class Blurred(nn.Module):
    """``base`` blurred by a Gaussian of ``sigma`` pixels (a generator that never got sharp)."""

    def __init__(self, base: nn.Module, sigma: float):
        super().__init__()
        self.base, self.sigma = base, float(sigma)
        r = max(1, int(math.ceil(3 * sigma)))
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / max(sigma, 1e-6)) ** 2)
        k = k / k.sum()
        self.register_buffer("k", (k[:, None] * k[None, :])[None, None])
        self.r = r
        self.latent_shape = (LATENT,)

    def forward(self, z):
        x = self.base(z)
        if self.sigma <= 0:
            return x
        # Blur in [0, 1] so the black background stays black at the edges.
        y = F.conv2d(F.pad((x + 1) / 2, [self.r] * 4, mode="replicate"), self.k)
        return y * 2 - 1


class RandomDCGAN(nn.Module):
    """An untrained DCGAN-style generator for 28x28 digits, latent (N, 100, 1, 1), DCGAN's
    N(0, 0.02) initialisation, BatchNorm in eval mode: what a checkpoint saved before training
    (or a state dict that never got loaded) produces."""

    def __init__(self, seed: int = 0, init_std: float | None = 0.02):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(100, 128, 7, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False), nn.Tanh())
        if init_std is not None:
            for mod in self.net.modules():
                if isinstance(mod, nn.ConvTranspose2d):
                    nn.init.normal_(mod.weight, 0.0, init_std)
                elif isinstance(mod, nn.BatchNorm2d):
                    nn.init.normal_(mod.weight, 1.0, init_std)
                    nn.init.zeros_(mod.bias)
        self.latent_shape = (100, 1, 1)
        self.eval()

    def forward(self, z):
        return self.net(z)


class RandomMLP(nn.Module):
    """An untrained MLP generator (report 000's shape: 100 -> 256 -> 512 -> 1024 -> 784, Tanh),
    PyTorch's default initialisation, latent (N, 100)."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        dims = [100, 256, 512, 1024]
        layers = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Linear(1024, 784), nn.Tanh())
        self.latent_shape = (100,)

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class Mixture(nn.Module):
    """Points of a 2D mixture restricted to the components ``keep``."""

    def __init__(self, name: str, keep=None):
        super().__init__()
        from diagnose.data.sources import mixture_centres

        c, std = mixture_centres(name)
        self.register_buffer("c", c if keep is None else c[list(keep)])
        self.std = std
        self.latent_shape = (3,)

    def forward(self, z):
        return self.c[_pick(z, len(self.c))] + self.std * z[:, 1:3]


@dataclass
class Case:
    """One ground-truth case: name, dataset, expected verdict, how to build it, data range."""

    name: str
    dataset: str
    expected: str
    build: Callable[[dict], nn.Module]
    value_range: tuple | None = (-1.0, 1.0)
    note: str = ""
    extra: dict = field(default_factory=dict)


def _digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from diagnose.analysis.reference import load_split

    ds = load_split("mnist", split)
    return ds.get(), ds.labels


def _class_means(train, labels) -> torch.Tensor:
    means = torch.stack([train[labels == c].mean(0) for c in range(10)])
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    k = (k[:, None] * k[None, :]) / 256.0
    return F.conv2d(means, k[None, None], padding=2)  # extra blur on top of the averaging


def cases() -> list[Case]:
    """The suite, in the order the table prints it."""
    def held(d):
        return d["test"][0]

    return [
        Case("one image repeated", "mnist", "mode_collapse", lambda d: Pick(held(d)[:1])),
        Case("ten blurry class means", "mnist", "mode_collapse",
             lambda d: Pick(_class_means(*d["train"]))),
        Case("twenty distinct images", "mnist", "mode_collapse", lambda d: Pick(held(d)[:20])),
        Case("three of ten classes", "mnist", "partial_collapse",
             lambda d: Warp(held(d)[d["test"][1] < 3])),
        Case("exact training images", "mnist", "memorization", lambda d: Pick(d["train"][0])),
        Case("pixel noise", "mnist", "not_converged", lambda d: Noise()),
        Case("one digit, 40 %, among noise", "mnist", "mode_collapse",
             lambda d: OneDigitAmongNoise(held(d)[2])),   # an 8 inside the real manifold
        Case("warps of held-out digits", "mnist", "healthy", lambda d: Warp(held(d))),
        Case("held-out digits, light warps", "mnist", "healthy",
             lambda d: Warp(held(d), strength=0.5)),
        Case("images in [0,1], data in [-1,1]", "mnist", "range_mismatch",
             lambda d: Warp(held(d), out_range=(0.0, 1.0))),
        Case("ring8, all modes", "ring8", "healthy", lambda d: Mixture("ring8"), None),
        Case("ring8, 3 modes dropped", "ring8", "partial_collapse",
             lambda d: Mixture("ring8", range(5)), None),
        Case("grid25, all modes", "grid25", "healthy", lambda d: Mixture("grid25"), None),
        Case("grid25, 5 modes dropped", "grid25", "partial_collapse",
             lambda d: Mixture("grid25", range(20)), None),
        Case("ring8, one mode", "ring8", "mode_collapse", lambda d: Mixture("ring8", [0]), None),
    ]


class _LazyDigits(dict):
    """{"train": (images, labels), "test": ...}, each split parsed on first use (mixture-only
    runs never parse the MNIST file)."""

    def __missing__(self, split):
        self[split] = _digits(split)
        return self[split]


def lazy_digits() -> dict:
    """The embedded MNIST splits as the cases' builders read them, parsed when first asked for."""
    return _LazyDigits()


def run_validation(*, n_samples: int = 2000, device: str = "cpu", cache=None,
                   progress: bool = False, only: str | None = None,
                   on_case: Callable | None = None) -> list[dict]:
    """Run every case through ``check_generator``; returns rows (case, expected, verdict, passed).

    only: a substring of case names to run a subset; on_case(row) is called after each case.
    """
    from diagnose.analysis.judge import check_generator
    from diagnose.generators.load import wrap_generator

    data = lazy_digits()
    rows = []
    for case in cases():
        if only and only not in case.name:
            continue
        torch.manual_seed(0)
        gen = wrap_generator(case.build(data), device=device)
        v = check_generator(gen, case.dataset, n_samples=n_samples, device=device,
                            progress=progress, value_range=case.value_range, cache=cache,
                            subject=case.name, kid_subsets=10)
        row = {"case": case.name, "dataset": case.dataset, "expected": case.expected,
               "verdict": v["verdict"], "passed": v["verdict"] == case.expected,
               "flags": [f["code"] for f in v["flags"]],
               "summary": v["flags"][0]["summary"] if v["flags"] else "no flag"}
        rows.append(row)
        if on_case:
            on_case(row)
    return rows
