"""A memory estimate before sampling: a generator of huge images is refused in one line, or
sampled in batches small enough for the memory there is, never 500 at once until memory runs out."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from diagnose.core.errors import UserError
from diagnose.generators.load import load_generator


class HugeG(nn.Module):
    """z (N, 8) -> (N, 3, S, S) images; records the largest batch it was called with."""

    latent_dim = 8

    def __init__(self, side: int):
        super().__init__()
        self.side = side
        self.fc = nn.Linear(8, 3)
        self.largest = 0

    def forward(self, z):
        self.largest = max(self.largest, z.shape[0])
        x = torch.tanh(self.fc(z))[:, :, None, None]
        return x.expand(-1, 3, self.side, self.side) * torch.ones(1, 1, self.side, self.side)


def test_a_4096_generator_over_budget_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv("GAN_DIAGNOSE_MEMORY_BUDGET", "256M")
    g = HugeG(4096)                                   # 192 MiB per sample, measured on 2 samples
    with pytest.raises(UserError) as e:
        load_generator(g)
    msg = str(e.value)
    assert "too large to sample" in msg and "3x4096x4096" in msg and "\n" not in msg
    assert g.largest == 2                              # only the small probe ran


def test_large_outputs_are_sampled_in_small_batches(monkeypatch):
    monkeypatch.setenv("GAN_DIAGNOSE_MEMORY_BUDGET", "160M")
    g = HugeG(1024)                                    # 12 MiB output per sample
    loaded = load_generator(g)
    plan = loaded.memory
    assert plan.bytes_per_sample >= 3 * 1024 * 1024 * 4
    assert 1 <= plan.max_batch <= 160 * 2 ** 20 // (3 * 1024 * 1024 * 4)
    g.largest = 0
    batches = [b.shape[0] for b in loaded.sample(9, batch_size=500)]
    assert sum(batches) == 9 and max(batches) <= plan.max_batch
    assert g.largest <= plan.max_batch
    g.largest = 0
    out = loaded.generate(loaded.latents(7))           # a direct call is split as well
    assert out.shape == (7, 3, 1024, 1024) and g.largest <= plan.max_batch


def test_small_generators_keep_their_batch():
    loaded = load_generator(HugeG(8))
    assert loaded.memory.max_batch >= 500
    assert [b.shape[0] for b in loaded.sample(600, batch_size=500)] == [500, 100]


def test_budget_parsing(monkeypatch):
    from diagnose.core.memory import parse_size

    assert parse_size("2G") == 2 << 30 and parse_size("512M") == 512 << 20 and parse_size("100") == 100
    with pytest.raises(UserError):
        parse_size("lots")
