"""Losses and the minibatch-discrimination layer.

Adversarial losses own the discriminator's head: ``bce`` expects probabilities (D ends in a
Sigmoid, ``nn.BCELoss``), ``bce_logits`` expects raw logits (``nn.BCEWithLogitsLoss``). Both also
turn D's output into a probability, so the loop always logs d_real / d_fake as probabilities.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from diagnose.core.registry import Registry

LOSSES = Registry("loss")


class BCESigmoid:
    """BCELoss on probabilities: D ends in Sigmoid (reports 000, 001 trial 1, 002, 004 trial 1)."""

    head = "sigmoid"

    def real(self, out: torch.Tensor) -> torch.Tensor:
        """-mean log D(x): the loss for outputs that should say 'real'."""
        return F.binary_cross_entropy(out, torch.ones_like(out))

    def fake(self, out: torch.Tensor) -> torch.Tensor:
        """-mean log(1 - D(x)): the loss for outputs that should say 'fake'."""
        return F.binary_cross_entropy(out, torch.zeros_like(out))

    def prob(self, out: torch.Tensor) -> torch.Tensor:
        """D's output as a probability (already one)."""
        return out


class BCELogits:
    """BCEWithLogitsLoss on raw logits: D has no Sigmoid (numerically safer, same loss)."""

    head = "logits"

    def real(self, out: torch.Tensor) -> torch.Tensor:
        """softplus(-logit), averaged: -log sigmoid(logit)."""
        return F.binary_cross_entropy_with_logits(out, torch.ones_like(out))

    def fake(self, out: torch.Tensor) -> torch.Tensor:
        """softplus(logit), averaged: -log(1 - sigmoid(logit))."""
        return F.binary_cross_entropy_with_logits(out, torch.zeros_like(out))

    def prob(self, out: torch.Tensor) -> torch.Tensor:
        """sigmoid of the logits, so logs are comparable with the Sigmoid head."""
        return torch.sigmoid(out)


def feature_matching(feat_real: torch.Tensor, feat_fake: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016): || mean f(x) - mean f(G(z)) ||_2^2 over a batch.

    ``f`` is D's last hidden layer; the real features are treated as constants.
    """
    return (feat_real.detach().mean(0) - feat_fake.mean(0)).pow(2).sum()


LOSSES.register("bce", BCESigmoid, description="BCELoss on a Sigmoid head", kind="adversarial")
LOSSES.register("bce_logits", BCELogits, description="BCEWithLogitsLoss on a logit head",
                kind="adversarial")
LOSSES.register("feature_matching", feature_matching,
                description="G objective ||E f(x) - E f(G(z))||^2 on D's last hidden layer",
                kind="generator")


def adversarial_loss(name: str):
    """An instance of the adversarial loss registered as ``name`` (bce or bce_logits)."""
    entry = LOSSES.entry(name)
    if entry.meta.get("kind") != "adversarial":
        raise ValueError(f"{name!r} is not an adversarial loss")
    return entry.obj()


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, sec. 3.2), appended to D's features.

    M = x @ T reshaped to (N, B, C); c_b(i, j) = exp(-||M_ib - M_jb||_1); o_b(i) = sum_{j != i}
    c_b(i, j). Output: cat([x, o]) of width in_features + out_features. Hand-written because no
    maintained library ships it; the formula is checked against a hand case in the tests.
    """

    def __init__(self, in_features: int, out_features: int = 50, kernel_dims: int = 5):
        super().__init__()
        self.out_features, self.kernel_dims = out_features, kernel_dims
        self.T = nn.Parameter(torch.randn(in_features, out_features * kernel_dims) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (x @ self.T).view(-1, self.out_features, self.kernel_dims)        # (N, B, C)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(3)                   # (N, N, B)
        o = torch.exp(-l1).sum(0) - 1.0                                       # drop j == i (exp 0)
        return torch.cat([x, o], 1)
