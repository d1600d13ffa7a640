"""Model registry: every generator and discriminator an experiment can name.

Each entry records its ``role`` ("generator" | "discriminator") and the report it comes from.
Discriminators return ``(N,)`` outputs (probabilities for head="sigmoid", logits for "logits")
and, with ``features=True``, also their last hidden layer for feature matching.
Generators carry ``latent_shape`` (one latent, without the batch dimension).
"""
from __future__ import annotations

# Importing the architectures registers them (import order = registry order).
from trainers.models import mlp, cspup, dcgan  # noqa: F401,I001  (order kept: mlp first)
from trainers.models.parts import MODELS, activation, head_layer, init_weights

__all__ = ["MODELS", "head_layer", "activation", "init_weights"]
