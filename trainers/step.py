"""One training step of one variant, and the checkpoint it resumes from.

:class:`Trainer` holds G, D, their optimisers, the loss and the data order; ``step()`` updates
D (every ``d_every`` steps) and G on one batch and returns the step's logged values as 0-d
tensors. Both loops use it: :func:`trainers.loop.train` in one process and
:func:`trainers.distributed.train_ddp` on each rank (through a subclass).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from diagnose.runs import series as S
from trainers.config import TrainConfig
from trainers.options import LoopOptions
from trainers.losses import adversarial_loss, feature_matching
from trainers.models import init_weights
from trainers.augment import augment


class DEveryN:
    """Train D on steps 1, 1+n, 1+2n, ... and G on every step (report 004 trial 3, n = 2)."""

    def __init__(self, n: int = 1):
        if n < 1:
            raise ValueError("d_every must be >= 1")
        self.n = int(n)

    def train_d(self, step: int) -> bool:
        """Whether D is updated at ``step`` (1-based)."""
        return (step - 1) % self.n == 0


def grad_norm(module: nn.Module) -> torch.Tensor:
    """Total L2 norm of a module's gradients, as a 0-d tensor (no host sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads)


@dataclass
class Nets:
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
        self.nets = Nets(G, D, fwd(G), fwd(D))
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
        return {"epoch": self.epoch, S.D_LOSS: d_loss.detach(), S.G_LOSS: g_loss.detach(),
                S.D_REAL: self.loss.prob(out_r.detach()).mean(),
                S.D_FAKE: self.loss.prob(out_f.detach()).mean(),
                S.GRAD_NORM_D: gn_d, S.GRAD_NORM_G: gn_g,
                S.LR_D: self.opt_d.param_groups[0]["lr"], S.LR_G: self.opt_g.param_groups[0]["lr"]}

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
    from diagnose.core.errors import UserError
    from diagnose.runs.checkpoint import WeightsReadError, read_weights

    try:
        ckpt = read_weights(path, map_location=device)
    except (WeightsReadError, OSError) as e:
        cause = e.cause if isinstance(e, WeightsReadError) else " ".join(str(e).split())[:160]
        raise UserError(f"cannot resume from checkpoint {path}: truncated, corrupt or it needs code "
                        f"to load ({cause}); delete it to resume from the one before, or run "
                        "without --resume") from None
    if not isinstance(ckpt, dict) or "generator" not in ckpt:
        raise UserError(f"cannot resume from checkpoint {path}: not a gan-diagnose training checkpoint")
    return ckpt


def run_steps(tr: "Trainer", mon, *, start: int, total: int, snap_every: int, evaluate, callbacks,
              stop_after: int | None, options: LoopOptions, desc: str, postfix: bool = True,
              close=None) -> int:
    """The loop both trainers share: steps ``start + 1 .. total`` of ``tr`` logged to ``mon``,
    a snapshot every ``snap_every`` steps and at the end (a grid at step 0 on a fresh start),
    callbacks, the progress bar; stops early when ``mon.should_stop`` or at ``stop_after``.
    ``close(ok)`` closes the monitor (default ``mon.close()``); returns the last step done."""
    import sys

    from tqdm.auto import tqdm

    opts = {"g": tr.opt_g, "d": tr.opt_d}

    def snapshot(step: int, checkpoint: bool = True) -> None:
        # Grids and evaluation may draw random numbers (dropout in G): keep training RNG untouched.
        saved = torch.get_rng_state()
        state = tr.state() if checkpoint else None     # data-parallel: collective (every rank's RNG)
        mon.snapshot(step, tr.nets.G, tr.nets.D, optimizers=opts, state=state,
                     checkpoint=checkpoint, evaluate=evaluate)
        torch.set_rng_state(saved)
        for cb in callbacks:
            cb.on_snapshot(tr, step)

    bar = tqdm(total=total, initial=start, desc=desc, unit="step", file=sys.stderr,
               disable=not options.progress, dynamic_ncols=True, mininterval=0.5)
    done, ok = start, False
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
            if postfix and step % options.postfix_every == 0:     # one sync every N steps
                bar.set_postfix(d=f"{float(logs[S.D_LOSS]):.3f}", g=f"{float(logs[S.G_LOSS]):.3f}",
                                Dx=f"{float(logs[S.D_REAL]):.2f}", DGz=f"{float(logs[S.D_FAKE]):.2f}")
            if step % snap_every == 0 or step == total:
                snapshot(step)
            if mon.should_stop or (stop_after is not None and step >= stop_after):
                break
        for cb in callbacks:
            cb.on_end(tr, done)
        ok = True
    finally:
        bar.close()
        (close or (lambda _ok: mon.close()))(ok)
    return done
