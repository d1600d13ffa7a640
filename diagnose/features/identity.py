"""``identity``: the features of a low-dimensional sample are its coordinates (2D mixtures)."""
from __future__ import annotations

import torch

from diagnose.core.errors import UserError
from diagnose.features.base import Extractor


class IdentityExtractor(Extractor):
    """Points (B, D) -> the same points as features; no classes (mode labels come from the data)."""

    name = "identity"
    kind = "points"

    def __init__(self, device="cpu", dim: int = 2, **_):
        super().__init__(device)
        self.dim = int(dim)

    def forward(self, x: torch.Tensor):
        """Flatten to (B, D) and check D."""
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.dim:
            raise UserError(f"identity features expect {self.dim}-D points, got {x.shape[1]}-D "
                            "samples (use an image extractor for images)")
        return x, None, None
