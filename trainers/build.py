"""Build G and D from a run's resolved config (config.json / a checkpoint's ``config``).

The resolved config holds ``generator`` / ``discriminator`` as ``{"name": ..., "kwargs": {...}}``
with the discriminator's head already decided by the loss, so a checkpoint alone is enough to
rebuild both networks.
"""
from __future__ import annotations

import torch.nn as nn

from diagnose.core.errors import UserError
from trainers.config import TrainConfig
from trainers.losses import LOSSES
from trainers.models import MODELS


def _build(config: dict, key: str, role: str) -> nn.Module:
    spec = config.get(key)
    if not isinstance(spec, dict) or "name" not in spec:
        raise UserError(f"config has no {key} spec ({{'name': ..., 'kwargs': {{...}}}})")
    entry = MODELS.entry(spec["name"])
    if entry.meta.get("role") != role:
        raise UserError(f"model {spec['name']!r} is a {entry.meta.get('role')}, not a {role}")
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (spec.get("kwargs") or {}).items()}
    try:
        return entry.obj(**kwargs)
    except TypeError as e:
        raise UserError(f"cannot build {spec['name']}: {e}") from None


def build_generator(config: dict) -> nn.Module:
    """The generator described by a resolved config; it carries ``latent_shape``."""
    return _build(config, "generator", "generator")


def build_discriminator(config: dict) -> nn.Module:
    """The discriminator described by a resolved config."""
    return _build(config, "discriminator", "discriminator")


def model_specs(cfg: TrainConfig) -> tuple[dict, dict]:
    """Generator and discriminator specs of a variant; D's head follows the adversarial loss."""
    head = LOSSES.entry(cfg.loss).obj.head
    g = {"name": cfg.generator, "kwargs": dict(cfg.g_kwargs)}
    d = {"name": cfg.discriminator, "kwargs": {**cfg.d_kwargs, "head": head}}
    return g, d
