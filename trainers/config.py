"""The typed config of one training run, and turning it into the resolved config.json dict.

A variant is a :class:`TrainConfig`; an experiment is a table of them. ``TrainConfig.replace``
refuses unknown keys, so a typo in an experiment table is an error, not a silently ignored knob.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines what one variant trains (not where or on what device)."""

    dataset: str = "mnist"                       # diagnose.data name (faces experiments: stacked-mnist stand-in)
    faces: bool = False                          # documented on CelebA: use celeba when --data-root has it
    resolution: int | None = None                # square image size (None = the dataset's own)
    dataset_size: int | None = None              # samples for composed/synthetic data (None = loader default)
    value_range: tuple[float, float] | None = (-1.0, 1.0)  # range of the REAL data fed to D (None: points)
    generator: str = "mlp_g"                     # trainers.models.MODELS name
    g_kwargs: dict = field(default_factory=dict)  # constructor arguments of the generator
    discriminator: str = "mlp_d"                 # trainers.models.MODELS name
    d_kwargs: dict = field(default_factory=dict)  # constructor arguments of D (head is set from `loss`)
    g_output_range: tuple[float, float] | None = (-1.0, 1.0)  # what G's last layer emits (Tanh)
    init: str = "dcgan"                          # weight init: "dcgan" N(0, .02) or "default" (PyTorch)
    loss: str = "bce"                            # adversarial loss: "bce" (Sigmoid head) | "bce_logits"
    g_objective: str = "adversarial"             # "adversarial" (non-saturating BCE) | "feature_matching"
    d_reduce: str = "sum"                        # D loss = real + fake ("sum", PyTorch DCGAN) or their "mean"
    joint_batch: bool = False                    # real and fake through D as ONE batch (BatchNorm sees both)
    d_every: int = 1                             # train D every n-th step (G every step)
    augment: str = "none"                        # trainers.augment.AUGMENTS name, applied on the device
    lr_g: float = 2e-4                           # Adam learning rate of G
    lr_d: float = 2e-4                           # Adam learning rate of D
    betas: tuple[float, float] = (0.5, 0.999)    # Adam betas
    weight_decay: float = 0.0                    # Adam weight decay (both players)
    batch_size: int = 64                         # real samples per step (and as many fakes)
    epochs: float | None = None                  # budget in passes over the data (one of epochs/steps)
    steps: int | None = None                     # budget in optimizer steps (wins over epochs)
    snapshot_every: int = 500                    # steps between sample grid + checkpoint

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes``; unknown keys raise ValueError naming them."""
        known = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise ValueError(f"unknown TrainConfig keys: {', '.join(bad)}")
        for k in ("g_kwargs", "d_kwargs"):
            if k in changes:   # kwargs merge, so a variant states only what it changes
                changes[k] = {**getattr(self, k), **changes[k]}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain-JSON form (tuples as lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError."""
        return cls().replace(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


@dataclass(frozen=True)
class QuickBudget:
    """What ``--quick`` changes: only the budget, never the architecture or the objective."""

    steps: int                    # optimizer steps
    batch_size: int | None = None  # smaller batch (None = the variant's own)
    snapshot_every: int | None = None  # snapshot interval (None = steps // 4)
    dataset_size: int | None = None    # fewer composed samples (stacked-mnist index table) to load faster

    def apply(self, cfg: TrainConfig) -> TrainConfig:
        """``cfg`` with the quick budget."""
        ch: dict[str, Any] = {"steps": self.steps, "epochs": None,
                              "snapshot_every": self.snapshot_every or max(1, self.steps // 4)}
        if self.batch_size:
            ch["batch_size"] = self.batch_size
        if self.dataset_size:
            ch["dataset_size"] = self.dataset_size
        return cfg.replace(**ch)
