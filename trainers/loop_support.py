"""Pieces the training loop needs around the step: options, device, data, resolved config, hooks."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from diagnose.core.device import resolve_device  # noqa: F401  (the trainers' name for it)
from diagnose.core.errors import UserError
from trainers.config import TrainConfig


@dataclass(frozen=True)
class LoopOptions:
    """How to run (not what to train); recorded in config.json under ``loop``."""

    compile: bool = False      # torch.compile G and D (CUDA: faster after warm-up; same maths)
    bf16: bool = False         # bf16 autocast (CUDA, or a CPU with avx512_bf16/AMX); off by default:
                               # it changes the numerics
    channels_last: bool = True  # on CPU, 4-d weights in NHWC order: oneDNN's fast layout, same maths
                                # up to float rounding (CUDA keeps NCHW: not measured there yet)
    progress: bool = True      # tqdm bar on stderr
    flush_every: int = 100     # Monitor: logged steps per batched conversion + write
    postfix_every: int = 50    # steps between progress-bar loss updates (each costs one sync)
    batchnorm: str = "sync"    # data-parallel runs only: "sync" = BatchNorm statistics over the global
                               # batch (what one process computes), "local" = over each rank's shard


@dataclass
class TrainResult:
    """What :func:`trainers.loop.train` returns."""

    run_dir: Path
    steps: int            # last step done in this process
    total_steps: int      # the run's budget
    seconds: float        # wall time of this call, data loading included
    device: str
    config: dict = field(default_factory=dict)


class Callback:
    """Hooks into the loop; subclass and override what you need (all default to no-ops)."""

    def on_start(self, trainer) -> None:
        """Before the first step of this process."""

    def on_step_end(self, trainer, step: int, logs: dict) -> None:
        """After each step; ``logs`` holds 0-d tensors (calling .item() here costs a sync)."""

    def on_snapshot(self, trainer, step: int) -> None:
        """After each snapshot."""

    def on_end(self, trainer, step: int) -> None:
        """After the last step of this process."""


def load_data(cfg: TrainConfig, data_root: str | None, seed: int = 0):
    """The variant's dataset; a faces experiment uses CelebA when --data-root holds it."""
    from diagnose.data import load_dataset

    vr = cfg.value_range or (-1.0, 1.0)
    if cfg.faces and data_root:
        try:
            return load_dataset("celeba", data_root=data_root, resolution=cfg.resolution, value_range=vr)
        except UserError:
            pass   # no CelebA there: the stacked-mnist stand-in (and its source line says so)
    return load_dataset(cfg.dataset, data_root=data_root, resolution=cfg.resolution, value_range=vr,
                        size=cfg.dataset_size, seed=seed)


def resolve_config(cfg: TrainConfig, ds, device: torch.device, *, experiment: str, variant: str,
                   seed: int, steps: int | None, epochs: float | None, options: LoopOptions,
                   extra: dict | None = None) -> dict:
    """The config.json dict: everything needed to rebuild the nets and to read the run later."""
    import dataclasses

    from trainers.build import model_specs

    if cfg.value_range is not None and ds.value_range is not None and tuple(ds.value_range) != tuple(cfg.value_range):
        ds = ds.with_range(cfg.value_range)
    spe = max(1, len(ds) // cfg.batch_size)
    if steps is not None:
        total = int(steps)
    elif epochs is not None:
        total = int(round(epochs * spe))
    elif cfg.steps is not None:
        total = int(cfg.steps)
    elif cfg.epochs is not None:
        total = int(round(cfg.epochs * spe))
    else:
        raise ValueError("config has neither steps nor epochs")
    if total < 1:
        raise UserError("the training budget must be at least one step")
    g, d = model_specs(cfg)
    return {
        "experiment": experiment, "variant": variant, "seed": int(seed),
        "dataset": ds.describe(), "device": str(device),
        "generator": g, "discriminator": d, "init": cfg.init,
        "losses": {"adversarial": cfg.loss, "g_objective": cfg.g_objective, "d_reduce": cfg.d_reduce},
        "optimizer": {"name": "adam", "lr_g": cfg.lr_g, "lr_d": cfg.lr_d, "betas": list(cfg.betas),
                      "weight_decay": cfg.weight_decay},
        "schedule": {"d_every": cfg.d_every},
        "data": {"augment": cfg.augment, "joint_batch": cfg.joint_batch,
                 "value_range": list(cfg.value_range) if cfg.value_range else None},
        "value_range": list(cfg.value_range) if cfg.value_range else None,
        "g_output_range": list(cfg.g_output_range) if cfg.g_output_range else None,
        "batch": cfg.batch_size, "steps": total, "steps_per_epoch": spe, "epochs": round(total / spe, 4),
        "snapshot_every": cfg.snapshot_every, "latent_shape": None,
        "loop": dataclasses.asdict(options), "train": cfg.to_dict(), **(extra or {}),
    }


def grad_norm(module: nn.Module) -> torch.Tensor:
    """Total L2 norm of a module's gradients, as a 0-d tensor (no host sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads)


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoints/step_*.pt of a run directory, or None."""
    from diagnose.runs import CHECKPOINTS, step_files

    files = step_files(Path(run_dir) / CHECKPOINTS, "pt")
    return files[-1][1] if files else None


def clean_run_dir(run_dir: Path) -> None:
    """Remove a previous run's artefacts (only the names a run writes), for a fresh start.

    The caller holds the directory's writer lock (:func:`acquire_run`)."""
    from diagnose.runs import remove_run

    remove_run(run_dir)


def acquire_run(run_dir: Path, *, resume: bool, overwrite: bool):
    """The writer lock of ``run_dir`` (a held :class:`diagnose.runs.lock.RunLock`).

    UserError when another writer holds it, or when the directory already holds a run and
    neither ``resume`` nor ``overwrite`` says what to do with it (nothing is deleted then).
    """
    from diagnose.runs.lock import RunLock
    from diagnose.runs import run_artifacts

    lock = RunLock(run_dir).acquire()
    found = run_artifacts(run_dir)
    if found and not (resume or overwrite):
        lock.release()
        raise UserError(f"{run_dir} already holds a run ({', '.join(found[:4])}): pass --resume to "
                        "continue it or --overwrite to replace it")
    return lock


#: config.json entries that must not change when a run is resumed (the budget may).
RESUME_KEYS = ("generator", "discriminator", "losses", "optimizer", "schedule", "data", "batch", "seed")


def check_resumable(run_dir: Path, config: dict) -> None:
    """UserError when resuming ``run_dir`` with a config that trains something else."""
    from diagnose.core.atomic import sanitize_json
    from diagnose.runs import CONFIG, read_json_file

    path = Path(run_dir) / CONFIG
    if not path.exists():
        return
    old = read_json_file(path)
    if old is None:
        return
    new = sanitize_json(config)
    changed = [k for k in RESUME_KEYS if k in old and old.get(k) != new.get(k)]
    if changed:
        raise UserError(f"cannot resume {run_dir}: {', '.join(changed)} differ from its config.json "
                        "(start fresh without --resume)")
