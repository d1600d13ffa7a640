"""Datasets by name: ``load_dataset("mnist" | "stacked-mnist" | "ring8" | "grid25" | "celeba" | "folder:PATH")``."""
from __future__ import annotations

from diagnose.core.errors import UserError
from diagnose.core.registry import Registry

#: name -> loader(**kw) -> Dataset; ``folder:PATH`` is accepted besides these. The loaders import
#: torch only when called, so naming datasets stays light.
DATASETS = Registry("dataset")
#: other spellings of registered names
ALIASES = {"stacked_mnist": "stacked-mnist"}


@DATASETS.register("mnist", description="MNIST: full from --data-root, else the embedded 5,000 digits")
def _mnist(**kw):
    from diagnose.data import sources

    return sources.load_mnist(**kw)


@DATASETS.register("stacked-mnist", description="three MNIST digits as R, G, B: 1,000 modes")
def _stacked(**kw):
    from diagnose.data import sources

    return sources.load_stacked_mnist(**kw)


def _mixture(name: str):
    def load(split="train", size=None, seed=0, **_):
        from diagnose.data import sources

        return sources.load_mixture(name, split=split, size=size, seed=seed)
    return load


DATASETS.register("ring8", _mixture("ring8"), description="8 Gaussians on a ring (2D points)")
DATASETS.register("grid25", _mixture("grid25"), description="25 Gaussians on a 5x5 grid (2D points)")


@DATASETS.register("celeba", description="CelebA faces from --data-root (img_align_celeba)")
def _celeba(**kw):
    from diagnose.data import sources

    return sources.load_celeba(**kw)


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
    if split not in ("train", "test", "all"):
        raise UserError(f"unknown split {split!r} (train, test or all)")
    if size is not None and int(size) <= 0:
        raise UserError(f"dataset size must be positive, got {size}")
    if resolution is not None and not 4 <= int(resolution) <= 4096:
        raise UserError(f"--resolution must be between 4 and 4096 pixels, got {resolution}")
    kw = dict(data_root=data_root, split=split, resolution=resolution, value_range=value_range,
              size=size, seed=seed)
    name = ALIASES.get(name, name)
    if name in DATASETS:
        return DATASETS[name](**kw)
    if isinstance(name, str) and name.startswith("folder:"):
        from diagnose.data import sources

        kw.pop("data_root")
        return sources.load_folder(name[len("folder:"):], **kw)
    raise UserError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or folder:PATH")


__all__ = ["DATASETS", "load_dataset"]
