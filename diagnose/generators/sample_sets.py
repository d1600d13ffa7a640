"""Samples given as files: a folder of images (PNG/JPEG/..., any size) or an .npz/.npy array.

This is how torch-fidelity and clean-fid users measure: they dump samples, then score the folder.
A :class:`SampleSet` offers what the verdict path reads from a generator (``output``, ``sample``,
``describe``) but has no latent, so latent-based measures are skipped (the verdict says so).
Images are read exactly: 8-bit files become k/255, so a generator's 8-bit-exact samples score
the same from PNGs as from the generator itself.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from diagnose.core.errors import UserError
from diagnose.generators.loaded import OutputInfo, normalize, read_output

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
#: PIL modes read as one gray channel (everything else is converted to RGB).
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F", "P-gray"}


class SampleSet:
    """Samples read from files, normalized as a generator's output would be."""

    has_latent = False
    module = None
    config = None
    latent_shape = None

    def __init__(self, data: torch.Tensor, *, path: str, form: str, note: str = ""):
        if len(data) == 0:
            raise UserError(f"{path} holds no samples")
        self.data, self.path, self.form, self.note = data, str(path), form, note
        self.count = int(len(data))
        raw = data.float() / 255.0 if data.dtype == torch.uint8 else data.float()
        info = read_output(raw[: min(len(raw), 4096)])
        finite = raw[torch.isfinite(raw)]
        # The range is measured over every sample, not a probe batch: the files are all there.
        lo, hi = (float(finite.min()), float(finite.max())) if finite.numel() else (float("nan"),) * 2
        rng = info.value_range
        if data.dtype == torch.uint8:
            rng = (0.0, 1.0) if info.kind == "image" else None
        self.output = OutputInfo(raw_shape=info.raw_shape, shape=info.shape, kind=info.kind,
                                 flat=info.flat, channels_last=info.channels_last,
                                 channels=info.channels, value_range=rng, probe_min=lo,
                                 probe_max=hi, probe_nonfinite=info.probe_nonfinite,
                                 probe_n=self.count)
        # 8-bit files carry no scale of their own: no range check against the training data.
        self.raw_range_known = data.dtype != torch.uint8

    def sample(self, n: int, batch_size: int = 500, seed: int = 0) -> Iterator[torch.Tensor]:
        """The first ``n`` samples, normalized, in batches (``seed`` is ignored: files are fixed)."""
        n = min(int(n), self.count)
        for i in range(0, n, int(batch_size)):
            x = self.data[i:min(n, i + int(batch_size))]
            yield normalize(x.float() / 255.0 if x.dtype == torch.uint8 else x.float(), self.output)

    def describe(self) -> str:
        """One line: what was read and how."""
        return f"{self.count:,} samples from {self.form} {self.path}: {self.output.describe()}" + \
            (f"; {self.note}" if self.note else "")

    def info(self) -> dict:
        """JSON-able facts for reports."""
        o = self.output
        return {"form": self.form, "path": self.path, "count": self.count, "kind": o.kind,
                "shape": list(o.shape), "channels": o.channels, "probe_min": o.probe_min,
                "probe_max": o.probe_max, "description": self.describe()}

    def __repr__(self) -> str:
        return f"<SampleSet {self.describe()}>"


def is_sample_path(path) -> bool:
    """Whether ``path`` names samples rather than a model: a folder of images, .npz or .npy."""
    p = Path(path)
    if p.suffix.lower() in (".npz", ".npy") and p.is_file():
        return True
    if p.is_dir() and ((p / "checkpoints").is_dir() or (p / "metrics.jsonl").is_file()):
        return False             # a run directory: its samples/ grids are not the samples to score
    return p.is_dir() and any(f.suffix.lower() in IMAGE_EXTENSIONS for f in _image_files(p, 1))


def _image_files(root: Path, limit: int | None = None) -> list[Path]:
    out = []
    for f in sorted(root.rglob("*")):
        if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file() and not f.name.startswith("."):
            out.append(f)
            if limit and len(out) >= limit:
                break
    return out


def load_samples(path, limit: int | None = None) -> SampleSet:
    """A SampleSet from a folder of images or an .npz/.npy file (at most ``limit`` samples)."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"no such file or folder: {p}")
    if p.is_dir():
        return _from_folder(p, limit)
    return _from_array(p, limit)


def _from_folder(root: Path, limit: int | None) -> SampleSet:
    from PIL import Image

    files = _image_files(root, limit)
    if not files:
        raise UserError(f"{root} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    images, modes = [], Counter()
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                mode = im.mode
                if mode == "P":    # palette images: gray when every palette entry is
                    rgb = im.convert("RGB")
                    a = np.asarray(rgb)
                    mode = "P-gray" if (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all() else "RGB"
                    im = rgb
                images.append(im.copy())
                modes[mode in GRAY_MODES] += 1
        except Exception as e:   # PIL raises many types for unreadable files
            raise UserError(f"cannot read image {f}: {type(e).__name__}: {e}") from None
    # torchvision's save_image writes gray images as RGB with R = G = B: those are gray too.
    gray = modes[True] == len(images) or all(_equal_channels(im) for im in images)
    sizes = Counter(im.size for im in images)
    size, _ = sizes.most_common(1)[0]
    resized = len(sizes) > 1
    arrs = []
    for im in images:
        im = im.convert("L" if gray else "RGB")
        if im.size != size:   # the most common size wins; others are resized to it
            im = im.resize(size, Image.BILINEAR)
        a = np.asarray(im, dtype=np.uint8)
        arrs.append(a[None] if gray else a.transpose(2, 0, 1))
    data = torch.from_numpy(np.stack(arrs))
    note = f"{sum(n for s, n in sizes.items() if s != size)} images resized to {size[0]}x{size[1]}" \
        if resized else ""
    return SampleSet(data, path=str(root), form="image folder", note=note)


def _equal_channels(im) -> bool:
    if im.mode != "RGB":
        return im.mode in GRAY_MODES
    a = np.asarray(im)
    return bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())


def _from_array(p: Path, limit: int | None) -> SampleSet:
    if p.suffix.lower() not in (".npz", ".npy"):
        raise UserError(f"{p}: expected a folder of images, an .npz or an .npy file")
    try:
        obj = np.load(p, allow_pickle=False)   # never unpickle: arrays only
    except ValueError as e:
        raise UserError(f"cannot read {p} without unpickling ({e}): save plain arrays") from None
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read {p}: {e}") from None
    name = ""
    if isinstance(obj, np.lib.npyio.NpzFile):
        keys = list(obj.keys())
        arrays = {k: obj[k] for k in keys}
        obj.close()
        big = [k for k in keys if arrays[k].ndim >= 2]
        pick = next((k for k in ("samples", "images", "arr_0", "x", "data") if k in big), None)
        if pick is None and len(big) == 1:
            pick = big[0]
        if pick is None:
            raise UserError(f"{p} holds arrays {', '.join(keys) or 'none'}: name the samples "
                            "'samples' (np.savez(path, samples=x))")
        arr, name = arrays[pick], f"array {pick!r}"
    else:
        arr = obj
    if arr.ndim < 2 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise UserError(f"{p}: expected samples (N, ...) of numbers, got {arr.dtype} {arr.shape}")
    if limit:
        arr = arr[:limit]
    data = torch.from_numpy(np.ascontiguousarray(arr))
    if data.dtype != torch.uint8:
        data = data.float()
    return SampleSet(data, path=str(p), form=p.suffix.lower().lstrip("."), note=name)
