"""The one training loop: every experiment variant runs through :func:`train`.

Per step: draw a batch of indices from a seeded permutation (data on the device as one tensor),
augment on the device, update D (every ``d_every`` steps) and G, and hand 0-d tensors to
``diagnose.Monitor`` (no ``.item()``: Monitor converts them in one batch per flush). Snapshots
(fixed-latent grid + checkpoint + optional ``evaluate``) every ``snapshot_every`` steps. A
checkpoint holds the data-order generator's state at the start of the epoch, the position in it,
the noise generator and the global RNG, so ``resume=True`` repeats an uninterrupted run exactly.
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from trainers.config import TrainConfig
from trainers.loop_support import (Callback, LoopOptions, TrainResult, acquire_run, check_resumable,
                                   clean_run_dir, grad_norm,
                                   last_checkpoint, load_data, resolve_config, resolve_device)
from trainers.losses import adversarial_loss, feature_matching
from trainers.models import init_weights
from trainers.options import DEveryN, augment


@dataclass
class _Nets:
    G: nn.Module          # what the optimiser and the checkpoints see
    D: nn.Module
    g_fwd: nn.Module      # what the step calls (compiled when asked)
    d_fwd: nn.Module


class Trainer:
    """State of one run (nets, optimisers, data order, RNG); :meth:`step` does one GAN update."""

    def __init__(self, cfg: TrainConfig, config: dict, data, device: torch.device,
                 options: LoopOptions, seed: int):
        from trainers.build import build_discriminator, build_generator

        self.cfg, self.config, self.data, self.device, self.opt = cfg, config, data, device, options
        torch.manual_seed(seed)
        G, D = build_generator(config), build_discriminator(config)
        init_weights(G, cfg.init)
        init_weights(D, cfg.init)
        G.to(device), D.to(device)
        if options.channels_last and device.type == "cpu":   # no-op for the MLPs' 2-d weights
            G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        fwd = (lambda m: torch.compile(m)) if options.compile else (lambda m: m)
        self.nets = _Nets(G, D, fwd(G), fwd(D))
        adam = lambda m, lr: torch.optim.Adam(m.parameters(), lr=lr, betas=tuple(cfg.betas),  # noqa: E731
                                              weight_decay=cfg.weight_decay)
        self.opt_g, self.opt_d = adam(G, cfg.lr_g), adam(D, cfg.lr_d)
        self.loss = adversarial_loss(cfg.loss)
        self.fm_loss = feature_matching   # batch means: the data-parallel trainer's are global
        self.schedule = DEveryN(cfg.d_every)
        self.augment = augment(cfg.augment)
        self.latent_shape = tuple(G.latent_shape)
        self.batch = int(config["batch"])
        self.steps_per_epoch = int(config["steps_per_epoch"])
        # Data order: CPU generator (identical on every device); state kept per epoch start.
        self.data_gen = torch.Generator().manual_seed(seed)
        self.noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
        self.epoch, self.pos = 0, 0
        self._epoch_state = self.data_gen.get_state()
        self.perm = torch.randperm(len(data), generator=self.data_gen).to(device)
        self.amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.bf16)

    # ----------------------------------------------------------------------------- data
    def _next_indices(self) -> torch.Tensor:
        if self.pos + self.batch > len(self.perm):       # drop the last partial batch, new epoch
            self.epoch += 1
            self.pos = 0
            self._epoch_state = self.data_gen.get_state()
            self.perm = torch.randperm(len(self.data), generator=self.data_gen).to(self.device)
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx

    def _inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This step's real batch (augmented) and latents; a data-parallel trainer takes its shard."""
        idx = self._next_indices()
        real = self.augment(self.data.get(idx), self.cfg.value_range, self.noise_gen)
        z = torch.randn((self.batch, *self.latent_shape), generator=self.noise_gen, device=self.device)
        return real, z

    def d_no_sync(self):
        """Context of the G step's D passes: a no-op here; the data-parallel trainer skips the
        all-reduce of D's gradients from the G loss (they are discarded before D's next update)."""
        return contextlib.nullcontext()

    def _d(self, real: torch.Tensor, fake: torch.Tensor, features: bool):
        """D on real and fake: two batches, or one joint batch so BatchNorm sees both."""
        D = self.nets.d_fwd
        with self.amp:
            if self.cfg.joint_batch:
                res = D(torch.cat([real, fake]), features=features)
                out, f = res if features else (res, None)
                n = real.shape[0]
                return out[:n].float(), out[n:].float(), (f[:n] if features else None), (f[n:] if features else None)
            r, fk = D(real, features=features), D(fake, features=features)
        if features:
            return r[0].float(), fk[0].float(), r[1], fk[1]
        return r.float(), fk.float(), None, None

    # ----------------------------------------------------------------------------- step
    def step(self, step: int) -> dict:
        """One D update (when the schedule says so) and one G update; returns 0-d tensors to log."""
        cfg, nets = self.cfg, self.nets
        real, z = self._inputs()
        with self.amp:
            fake = nets.g_fwd(z)
        fake = fake.float()
        fm = cfg.g_objective == "feature_matching"
        train_d = self.schedule.train_d(step)
        with torch.set_grad_enabled(train_d):
            out_r, out_f, _, _ = self._d(real, fake.detach(), features=False)
            l_real, l_fake = self.loss.real(out_r), self.loss.fake(out_f)
            d_loss = l_real + l_fake if cfg.d_reduce == "sum" else (l_real + l_fake) / 2
        gn_d = None
        if train_d:
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            gn_d = grad_norm(nets.D)
            self.opt_d.step()
        # G step: non-saturating BCE (or feature matching) through the just-updated D.
        with self.d_no_sync():
            if fm or cfg.joint_batch:    # real features (FM) or shared BatchNorm statistics (joint)
                _, g_out_f, f_r, f_f = self._d(real, fake, features=fm)
            else:                        # the common case: only D(G(z)) is needed
                with self.amp:
                    g_out_f = nets.d_fwd(fake).float()
        g_loss = self.fm_loss(f_r, f_f) if fm else self.loss.real(g_out_f)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        gn_g = grad_norm(nets.G)
        self.opt_g.step()
        return {"epoch": self.epoch, "d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": self.loss.prob(out_r.detach()).mean(), "d_fake": self.loss.prob(out_f.detach()).mean(),
                "grad_norm_d": gn_d, "grad_norm_g": gn_g,
                "lr_d": self.opt_d.param_groups[0]["lr"], "lr_g": self.opt_g.param_groups[0]["lr"]}

    # ----------------------------------------------------------------------- checkpoint
    def state(self) -> dict:
        """Loop state for the checkpoint (tensors and plain values only: weights_only loadable)."""
        s = {"epoch": self.epoch, "pos": self.pos, "data_rng_epoch_start": self._epoch_state,
             "noise_rng": self.noise_gen.get_state(), "torch_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            s["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return {"loop": s}

    def load(self, ckpt: dict) -> int:
        """Restore nets, optimisers, data order and RNG from a checkpoint; return its step."""
        self.nets.G.load_state_dict(ckpt["generator"])
        self.nets.D.load_state_dict(ckpt["discriminator"])
        self.opt_g.load_state_dict(ckpt["optimizers"]["g"])
        self.opt_d.load_state_dict(ckpt["optimizers"]["d"])
        s = ckpt["loop"]
        self.epoch, self.pos = int(s["epoch"]), int(s["pos"])
        self._epoch_state = s["data_rng_epoch_start"]
        self.data_gen.set_state(self._epoch_state)
        self.perm = torch.randperm(len(self.data), generator=self.data_gen).to(self.device)
        self.noise_gen.set_state(s["noise_rng"])
        torch.set_rng_state(s["torch_rng"])
        if "cuda_rng" in s and self.device.type == "cuda":
            torch.cuda.set_rng_state(s["cuda_rng"], self.device)
        return int(ckpt["step"])


def read_checkpoint(path: Path, device) -> dict:
    """The checkpoint to resume from, read with ``weights_only=True`` (a file never runs code);
    a truncated, corrupt or code-needing file is a UserError naming it, not a traceback."""
    import pickle

    from diagnose.errors import UserError

    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError,
            AttributeError) as e:
        cause = " ".join(str(e).split("Check the documentation")[0].split())
        cause = cause.split("WeightsUnpickler error:")[-1].strip()[:160]
        raise UserError(f"cannot resume from checkpoint {path}: truncated, corrupt or it needs code "
                        f"to load ({cause}); delete it to resume from the one before, or run "
                        "without --resume") from None
    if not isinstance(ckpt, dict) or "generator" not in ckpt:
        raise UserError(f"cannot resume from checkpoint {path}: not a gan-diagnose training checkpoint")
    return ckpt


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
                from diagnose.errors import UserError

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
    snap_every = max(1, int(config["snapshot_every"]))
    opts = {"g": tr.opt_g, "d": tr.opt_d}

    def snapshot(step: int, checkpoint: bool = True) -> None:
        # Grids and evaluation may draw random numbers (dropout in G): keep training RNG untouched.
        saved = torch.get_rng_state()
        mon.snapshot(step, tr.nets.G, tr.nets.D, optimizers=opts, state=tr.state(),
                     checkpoint=checkpoint, evaluate=evaluate)
        torch.set_rng_state(saved)
        for cb in callbacks:
            cb.on_snapshot(tr, step)

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=start, desc=f"{experiment}/{variant}", unit="step", file=sys.stderr,
               disable=not options.progress, dynamic_ncols=True, mininterval=0.5)
    done = start
    try:
        for cb in callbacks:
            cb.on_start(tr)
        if start == 0:
            snapshot(0, checkpoint=False)
        for step in range(start + 1, total + 1):
            logs = tr.step(step)
            mon.log(step, **logs)
            done = step
            for cb in callbacks:
                cb.on_step_end(tr, step, logs)
            bar.update(1)
            if step % options.postfix_every == 0:     # one sync every N steps, not per step
                bar.set_postfix(d=f"{float(logs['d_loss']):.3f}", g=f"{float(logs['g_loss']):.3f}",
                                Dx=f"{float(logs['d_real']):.2f}", DGz=f"{float(logs['d_fake']):.2f}")
            if step % snap_every == 0 or step == total:
                snapshot(step)
            if mon.should_stop or (stop_after is not None and step >= stop_after):
                break
        for cb in callbacks:
            cb.on_end(tr, done)
    finally:
        bar.close()
        mon.close()
    return TrainResult(run_dir=run_dir, steps=done, total_steps=total, seconds=time.time() - t0,
                       device=str(dev), config=config)
