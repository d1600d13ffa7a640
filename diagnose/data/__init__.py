"""Datasets by name: ``load_dataset("mnist" | "stacked-mnist" | "ring8" | "grid25" | "celeba" | "folder:PATH")``."""
from __future__ import annotations

from diagnose.errors import UserError

#: Registered dataset names (``folder:PATH`` is accepted besides these).
DATASETS = ("mnist", "stacked-mnist", "ring8", "grid25", "celeba")


def load_dataset(name: str, *, data_root=None, split: str = "train", resolution: int | None = None,
                 value_range=(-1.0, 1.0), size: int | None = None, seed: int = 0):
    """Build a :class:`~diagnose.data.base.Dataset`.

    name:        one of DATASETS or "folder:PATH"
    data_root:   where full datasets live (torchvision layout for MNIST); no download ever
    split:       "train", "test" (held out, for memorization checks) or "all"
    resolution:  square image size to resize to (None = native)
    value_range: range of the returned images, (-1, 1) by default, (0, 1) for ToTensor-style data
    size:        number of samples for synthetic/composed sets (stacked-mnist, mixtures), or a cap
                 on the number of images for folders
    seed:        seed of the synthetic/composed draws
    """
    from diagnose.data import sources

    if split not in ("train", "test", "all"):
        raise UserError(f"unknown split {split!r} (train, test or all)")
    if size is not None and int(size) <= 0:
        raise UserError(f"dataset size must be positive, got {size}")
    if resolution is not None and not 4 <= int(resolution) <= 4096:
        raise UserError(f"--resolution must be between 4 and 4096 pixels, got {resolution}")
    kw = dict(data_root=data_root, split=split, resolution=resolution, value_range=value_range,
              size=size, seed=seed)
    if name == "mnist":
        return sources.load_mnist(**kw)
    if name in ("stacked-mnist", "stacked_mnist"):
        return sources.load_stacked_mnist(**kw)
    if name in ("ring8", "grid25"):
        return sources.load_mixture(name, split=split, size=size, seed=seed)
    if name == "celeba":
        return sources.load_celeba(**kw)
    if name.startswith("folder:"):
        kw.pop("data_root")
        return sources.load_folder(name[len("folder:"):], **kw)
    raise UserError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or folder:PATH")


__all__ = ["DATASETS", "load_dataset"]
