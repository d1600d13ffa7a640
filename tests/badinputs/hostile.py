"""Generators built to do harm, for the tests that show they are refused (imports torch: load it
only where a test needs it, so the bad-input corpus stays quick to import)."""
from __future__ import annotations

import torch
from torch import nn


class FromFileG(nn.Module):
    """Writes 'AAAAAAAA' over the first bytes of ``path`` each time it runs."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.fc = nn.Linear(8, 2)

    def forward(self, z):
        t = torch.from_file(self.path, shared=True, size=8, dtype=torch.uint8)
        t.copy_(torch.full((8,), 65, dtype=torch.uint8))
        return self.fc(z) + t[:1].float() * 0          # use t so the compiler keeps the write
