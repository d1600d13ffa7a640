"""The one training loop: every experiment variant runs through :func:`train`.

Per step: draw a batch of indices from a seeded permutation (data on the device as one tensor),
augment on the device, update D (every ``d_every`` steps) and G, and hand 0-d tensors to
``diagnose.Monitor`` (no ``.item()``: Monitor converts them in one batch per flush). Snapshots
(fixed-latent grid + checkpoint + optional ``evaluate``) every ``snapshot_every`` steps. A
checkpoint holds the data-order generator's state at the start of the epoch, the position in it,
the noise generator and the global RNG, so ``resume=True`` repeats an uninterrupted run exactly.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from diagnose.core.device import resolve_device
from trainers.config import TrainConfig
from trainers.options import Callback, LoopOptions, TrainResult
from trainers.setup import (acquire_run, check_resumable, clean_run_dir, last_checkpoint, load_data,
                            resolve_config)
from trainers.step import Trainer, read_checkpoint, run_steps  # noqa: F401  (Trainer: public here too)


def train(cfg: TrainConfig, run_dir: str | Path, *, experiment: str = "custom", variant: str = "run",
          seed: int = 0, device: str = "auto", data_root: str | None = None, resume: bool = False,
          steps: int | None = None, epochs: float | None = None, dataset=None, extra: dict | None = None,
          evaluate: Callable | None = None, callbacks: tuple[Callback, ...] = (),
          stop_after: int | None = None, options: LoopOptions = LoopOptions(),
          overwrite: bool = False) -> TrainResult:
    """Train one variant into ``run_dir``; return where it went, how many steps and how long.

    steps/epochs override the config's budget; ``stop_after`` ends the process early as a kill
    would (for resume tests); ``evaluate(step, G) -> dict`` is called at every snapshot and its
    metrics go to evals.jsonl; ``dataset`` reuses an already loaded Dataset. A ``run_dir`` that
    already holds a run needs ``resume`` or ``overwrite``; one another writer holds is refused.
    """
    from diagnose.monitor import Monitor
    from trainers.distributed import data_parallel

    if data_parallel():   # under torchrun: this variant over every rank (DDP); see trainers.distributed
        from trainers.distributed import train_ddp

        return train_ddp(cfg, run_dir, experiment=experiment, variant=variant, seed=seed, device=device,
                         data_root=data_root, resume=resume, steps=steps, epochs=epochs, dataset=dataset,
                         extra=extra, evaluate=evaluate, callbacks=callbacks, stop_after=stop_after,
                         options=options, overwrite=overwrite)
    t0 = time.time()
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True      # fixed shapes: let cuDNN pick its fastest kernels
    ds = (dataset or load_data(cfg, data_root, seed)).to(dev)
    config = resolve_config(cfg, ds, dev, experiment=experiment, variant=variant, seed=seed,
                            steps=steps, epochs=epochs, options=options, extra=extra)
    run_dir = Path(run_dir)
    lock = acquire_run(run_dir, resume=resume, overwrite=overwrite)   # before reading or deleting
    try:
        ckpt_path = last_checkpoint(run_dir) if resume else None
        if ckpt_path is None:       # a fresh start: old metrics would otherwise block new steps
            clean_run_dir(run_dir)
        else:
            check_resumable(run_dir, config)
        tr = Trainer(cfg, config, ds, dev, options, seed)
        config["latent_shape"] = list(tr.latent_shape)
        start = 0
        if ckpt_path is not None:
            ckpt = read_checkpoint(ckpt_path, dev)
            try:
                start = tr.load(ckpt)
            except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as e:
                from diagnose.core.errors import UserError

                raise UserError(f"cannot resume from checkpoint {ckpt_path}: it does not hold this "
                                f"run's state ({type(e).__name__}: {' '.join(str(e).split())[:120]}); "
                                "delete it to resume from the one before, or pass --overwrite") from None
        total = int(config["steps"])
        mon = Monitor(run_dir, config, resume=ckpt_path is not None, lock=lock,
                      latent_shape=tr.latent_shape,
                      value_range=cfg.g_output_range or (-1.0, 1.0), kind=ds.kind,
                      centres=ds.centres.cpu() if ds.centres is not None else None,
                      flush_every=options.flush_every, quiet=not options.progress)
    except BaseException:
        lock.release()
        raise
    done = run_steps(tr, mon, start=start, total=total, snap_every=max(1, int(config["snapshot_every"])),
                     evaluate=evaluate, callbacks=callbacks, stop_after=stop_after, options=options,
                     desc=f"{experiment}/{variant}")
    return TrainResult(run_dir=run_dir, steps=done, total_steps=total, seconds=time.time() - t0,
                       device=str(dev), config=config)
