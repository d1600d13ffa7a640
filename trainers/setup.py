"""Setting a run up around the loop: the variant's data, the resolved config written to
config.json, the run directory (lock, clean start) and the checks before resuming it.
"""
from __future__ import annotations

from pathlib import Path

import torch

from diagnose.core.errors import UserError
from trainers.config import TrainConfig
from trainers.options import LoopOptions


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
