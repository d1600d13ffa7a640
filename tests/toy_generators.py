"""Small generators several tests build checkpoints from (importable by name, so a checkpoint
written by Monitor can be rebuilt from the class it records)."""
from __future__ import annotations

import torch

from diagnose.analysis.groundtruth import Mixture


class RingModes(torch.nn.Module):
    """ring8 restricted to its first ``n_modes`` components (rebuildable from its argument)."""

    def __init__(self, n_modes=8):
        super().__init__()
        self.n_modes = n_modes
        self.m = Mixture("ring8", range(n_modes))
        self.latent_shape = (3,)

    def forward(self, z):
        return self.m(z)
