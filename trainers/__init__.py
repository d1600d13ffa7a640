"""trainers: models, losses, one training loop and the registry of documented experiments.

Public API:
    build_generator(config) / build_discriminator(config)   rebuild nets from a run's config.json
    train(cfg, run_dir, ...)                                 the one training loop
    EXPERIMENTS, get_experiment(name)                        the experiment tables
    MODELS, LOSSES, AUGMENTS                                 registries of parts
    TrainConfig, QuickBudget, LoopOptions, Callback          typed configs and hooks
"""
from diagnose.core.lazy import lazy_getattr

_LAZY = {
    "build_generator": ("trainers.build", "build_generator"),
    "build_discriminator": ("trainers.build", "build_discriminator"),
    "train": ("trainers.loop", "train"),
    "Trainer": ("trainers.step", "Trainer"),
    "EXPERIMENTS": ("trainers.experiments", "EXPERIMENTS"),
    "get_experiment": ("trainers.experiments", "get_experiment"),
    "MODELS": ("trainers.models", "MODELS"),
    "LOSSES": ("trainers.losses", "LOSSES"),
    "AUGMENTS": ("trainers.augment", "AUGMENTS"),
    "TrainConfig": ("trainers.config", "TrainConfig"),
    "QuickBudget": ("trainers.config", "QuickBudget"),
    "LoopOptions": ("trainers.options", "LoopOptions"),
    "Callback": ("trainers.options", "Callback"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)
