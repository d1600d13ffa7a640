"""The contract every feature extractor meets (the registry that names them: registry.py).

An extractor maps a batch of samples (images as float (B, C, H, W) in [0, 1], or points (B, D))
to features (N, dim) and, when it is a classifier, logits (N, K) and class labels (N,).
``extract`` makes ONE pass over an iterable of batches and returns all three, so every metric of
a check is computed from the same single feature pass.
"""
from __future__ import annotations

import sys
from typing import Iterable

import torch

from diagnose.core.errors import UserError


class Extractor:
    """Base class: subclasses set ``name``, ``dim``, ``num_classes``, ``kind`` and implement ``forward``.

    ``forward(x)`` returns ``(features, logits_or_None, labels_or_None)`` for one batch already on
    the extractor's device; the public methods below are thin views on it so that a caller who
    wants all three pays for one forward pass only.
    """

    name: str = "?"
    dim: int = 0
    num_classes: int | None = None
    kind: str = "image"  # "image" or "points": what inputs it expects

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)

    # ------------------------------------------------------------------ what subclasses write
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(features (B, dim), logits (B, K) or None, labels (B,) or None) for one device batch."""
        raise NotImplementedError

    # ------------------------------------------------------------------ public views
    #: Rows per forward call (None: the caller's batch). Small networks run faster on the CPU
    #: when one call's activations fit the caches; set per extractor, results do not depend on it.
    infer_batch: int | None = None

    def _run(self, x: torch.Tensor):
        if not torch.is_tensor(x):
            raise UserError(f"{self.name}: expected a tensor batch, got {type(x).__name__}")
        step = self.infer_batch or max(1, len(x))
        parts = []
        # inference_mode: no autograd bookkeeping at all (no_grad still versions every tensor).
        with torch.inference_mode():
            for i in range(0, max(1, len(x)), step):
                parts.append(self.forward(x[i:i + step].to(self.device, torch.float32)))
        out = []
        for j, kind in enumerate((torch.float32, torch.float32, torch.long)):
            got = [p[j] for p in parts if p[j] is not None]
            if not got:
                out.append(None)
                continue
            t = torch.cat(got) if len(got) > 1 else got[0]
            # A clone leaves inference mode: callers may modify what they get in place.
            out.append(t.to("cpu", kind).clone())
        return tuple(out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features (N, dim), float32 on the CPU."""
        return self._run(x)[0]

    def logits(self, x: torch.Tensor) -> torch.Tensor | None:
        """Class log-probabilities/logits (N, K) for the Inception Score, or None."""
        return self._run(x)[1]

    def classify(self, x: torch.Tensor) -> torch.Tensor | None:
        """Predicted class of each sample (N,) long, or None when the extractor has no classes."""
        return self._run(x)[2]

    def extract(self, batches: Iterable[torch.Tensor], progress: bool = True,
                total: int | None = None) -> dict[str, torch.Tensor | None]:
        """One pass over ``batches``: dict(features=(N, dim), logits=(N, K)|None, labels=(N,)|None).

        total: number of samples expected (the progress bar; with it the outputs are written
        into tensors allocated once, so the peak is one copy of the features, not two).
        """
        from tqdm import tqdm

        bufs: list[torch.Tensor | None] | None = None
        parts: list[list[torch.Tensor]] = [[], [], []]
        n = filled = 0
        bar = tqdm(total=total, desc=f"features ({self.name})", unit="img", file=sys.stderr,
                   disable=not progress, leave=False)
        try:
            for x in batches:
                got = self._run(x)
                b = int(got[0].shape[0])
                if bufs is None and total:
                    bufs = [None if t is None else t.new_empty((int(total), *t.shape[1:]))
                            for t in got]
                if bufs is not None and filled == n and n + b <= len(bufs[0]):
                    for buf, t in zip(bufs, got):
                        if buf is not None and t is not None:
                            buf[n:n + b] = t
                    filled += b
                else:                     # more rows than announced: keep the rest as parts
                    for j, t in enumerate(got):
                        if t is not None:
                            parts[j].append(t)
                n += b
                bar.update(b)
        finally:
            bar.close()
        if not n:
            raise UserError(f"{self.name}: no samples to extract features from")
        out = []
        for j in range(3):
            pieces = [] if bufs is None or bufs[j] is None or not filled else [bufs[j][:filled]]
            pieces += parts[j]
            out.append(None if not pieces else pieces[0] if len(pieces) == 1 else torch.cat(pieces))
        return {"features": out[0], "logits": out[1], "labels": out[2]}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} dim={self.dim} classes={self.num_classes}>"


def to_unit_images(x: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """Float images in [0, 1] with ``channels`` channels (gray averaged / replicated) at ``size``^2.

    Why hand-written: three tensor ops; torchvision transforms work per PIL image and are slower.
    """
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise UserError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    c = x.shape[1]
    if c != channels:
        if channels == 1:
            x = x.mean(1, keepdim=True)
        elif c == 1:
            x = x.expand(-1, channels, -1, -1)
        else:
            raise UserError(f"cannot turn {c}-channel images into {channels}-channel ones")
    if x.shape[-2:] != (size, size):
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                            align_corners=False, antialias=x.shape[-1] > size)
    return x
