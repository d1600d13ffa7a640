"""Data-parallel training of one variant: G and D in DistributedDataParallel under torchrun.

The experiment keeps its meaning: the global batch is the documented batch (each of the N ranks
takes an equal, disjoint shard, batch / N, of each step's slice of the epoch's permutation), DDP
averages the ranks' gradients, so a step is the step one process takes on the whole batch.
What is random is drawn as one process draws it: the data order and the latents/augmentation
come from the same seeded generators on every rank (each rank keeps its own slice), so a run
without BatchNorm or dropout logs the numbers of the one-process run up to float rounding.
Dropout draws from each rank's own global RNG (rank 0 keeps the one-process stream; the
others are seeded from it): the masks differ from one process's, in distribution they do not.

BatchNorm (``LoopOptions.batchnorm``, ``--batchnorm``; recorded in config.json under
``distributed``):

- ``sync`` (default): statistics over the whole global batch, as one process computes them. The
  documented experiments depend on which samples share a batch's statistics: report 003's D sees
  a batch of real and a batch of fakes, and its ``batch_stat_leak`` verdict is about exactly
  that; with ``sync`` the real batch is still the whole real batch. On GPUs this is PyTorch's
  SyncBatchNorm; PyTorch's refuses CPU tensors, so on gloo :class:`GlooSyncBatchNorm` does the
  same two all-reduces (sum and count, then squared deviations) with torch.distributed's
  differentiable all_reduce.
- ``local``: each rank normalises with its own batch / N samples (no communication; noisier
  statistics from smaller batches: a different experiment, recorded as such).

Other layers that look across samples keep the one-process meaning too: minibatch
discrimination compares each sample with the whole global batch (a differentiable all_gather),
and feature matching matches the global batch means.

Resume: the checkpoint (rank 0 writes it) holds each rank's torch (and CUDA) RNG state besides the
shared loop state; rank 0 reads it and broadcasts its bytes, so no rank needs rank 0's disk.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import os
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
import torch.nn as nn

from diagnose.core import dist as dd
from diagnose.core.errors import UserError
from diagnose.monitor.ranks import RankMonitor
from diagnose.runs.checkpoint import read_weights
from trainers.config import TrainConfig
from trainers.losses import MinibatchDiscrimination
from trainers.options import Callback, LoopOptions, TrainResult
from trainers.setup import (acquire_run, check_resumable, clean_run_dir, last_checkpoint, load_data,
                            resolve_config)
from trainers.step import Nets, Trainer, read_checkpoint, run_steps

BATCHNORM_MODES = ("sync", "local")
_SWEEP = {"on": False}


def data_parallel() -> bool:
    """True when :func:`trainers.loop.train` should train data-parallel: this process is a rank of
    a job of more than one (torchrun started it, or its process group is up), and the job is not a
    ``--parallel`` sweep (one variant per rank)."""
    if _SWEEP["on"]:
        return False
    return dd.active() or (dd.launched() and int(os.environ.get("WORLD_SIZE", "1")) > 1)


def set_sweep(on: bool = True) -> None:
    """Mark this job as a sweep: each rank trains its own variants in one process."""
    _SWEEP["on"] = bool(on)


# ----------------------------------------------------------------------------- collectives
class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks with a gradient: the backward of a sum that every rank's loss depends on is
    the sum of the ranks' gradients. (torch.distributed.nn's differentiable collectives do this
    too but are deprecated in favour of private functional ones; this uses dist.all_reduce only.)"""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        g = g.clone()
        dist.all_reduce(g)
        return g


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """``x`` summed over the ranks, differentiable."""
    return _AllReduceSum.apply(x)


def all_gather_cat(x: torch.Tensor) -> torch.Tensor:
    """Every rank's ``x`` (equal shapes) concatenated in rank order along dim 0, differentiable:
    each rank writes its rows into zeros and one summing all-reduce fills in the others."""
    n, r = x.shape[0], dd.rank()
    full = torch.cat([x.new_zeros((n * r, *x.shape[1:])), x,
                      x.new_zeros((n * (dd.world_size() - r - 1), *x.shape[1:]))])
    return all_reduce_sum(full)


# ----------------------------------------------------------------------------- BatchNorm
class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics span every rank's batch (CPU / gloo).

    Same maths as one BatchNorm over the concatenated global batch: the mean from an all-reduced
    sum and count, the variance from all-reduced squared deviations, the running variance
    unbiased over the global count. The all-reduces are differentiable, so the gradient through
    the statistics reaches every rank's inputs, as SyncBatchNorm's does.
    """

    syncs_batch_statistics = True

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-d input (got {input.dim()}-d)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dd.active()):
            return super().forward(x)
        all_reduce = all_reduce_sum
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        s = all_reduce(torch.cat([x.sum(dims), x.new_full((1,), float(x.numel() // x.shape[1]))]))
        n = s[-1].detach()
        mean = s[:-1] / n
        xc = x - mean.reshape(shape)
        var = all_reduce((xc * xc).sum(dims)) / n
        if self.track_running_stats and self.running_mean is not None:
            self.num_batches_tracked.add_(1)
            f = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            with torch.no_grad():
                self.running_mean.mul_(1 - f).add_(mean.detach(), alpha=f)
                self.running_var.mul_(1 - f).add_(var.detach() * n / (n - 1).clamp(min=1), alpha=f)
        y = xc * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


def _to_gloo_sync(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm replaced by GlooSyncBatchNorm sharing its parameters and
    buffers (the optimiser keeps working on the same Parameter objects)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not dd.syncs(module):
        new = GlooSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        new.running_mean, new.running_var = module.running_mean, module.running_var
        new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        setattr(module, name, _to_gloo_sync(child))
    return module


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``module`` synced across ranks: SyncBatchNorm on GPUs, else gloo's."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _to_gloo_sync(module)


def has_batchnorm(*modules: nn.Module) -> bool:
    """Whether any of ``modules`` normalises with batch statistics."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for mod in modules for m in mod.modules())


class GlobalMinibatchDiscrimination(MinibatchDiscrimination):
    """Minibatch discrimination against the global batch: each sample is compared with every
    rank's samples (one differentiable all_gather of the kernels), as in one process."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not dd.active():
            return super().forward(x)
        m = (x @ self.T).view(-1, self.out_features, self.kernel_dims)        # (n, B, C) mine
        every = all_gather_cat(m)                                              # (N, B, C) global
        l1 = (every.unsqueeze(0) - m.unsqueeze(1)).abs().sum(3)               # (n, N, B)
        o = torch.exp(-l1).sum(1) - 1.0                                       # drop j == i (exp 0)
        return torch.cat([x, o], 1)


def global_minibatch_layers(module: nn.Module) -> int:
    """Make every minibatch-discrimination layer of ``module`` compare with the global batch;
    returns how many there were."""
    n = 0
    for m in module.modules():
        if type(m) is MinibatchDiscrimination:
            m.__class__ = GlobalMinibatchDiscrimination
            n += 1
    return n


def _global_feature_matching(f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    """Feature matching on the global batch means (the loss is not linear in them, so the mean of
    the ranks' local losses would be another objective)."""
    w = dd.world_size()
    m_real = f_real.detach().mean(0).clone()
    dist.all_reduce(m_real)
    m_fake = all_reduce_sum(f_fake.mean(0)) / w
    return (m_real / w - m_fake).pow(2).sum()


# ----------------------------------------------------------------------------- the trainer
class DDPTrainer(Trainer):
    """:class:`trainers.loop.Trainer` on one rank: its shard of each global batch, DDP nets."""

    def __init__(self, cfg: TrainConfig, config: dict, data, device: torch.device,
                 options: LoopOptions, seed: int):
        self.rank, self.world = dd.rank(), dd.world_size()
        super().__init__(cfg, config, data, device, options, seed)
        if self.batch % self.world:
            raise UserError(split_error(self.batch, self.world))
        self.local = self.batch // self.world
        G, D = self.nets.G, self.nets.D
        bn = options.batchnorm
        if bn not in BATCHNORM_MODES:
            raise UserError(f"unknown batchnorm mode {bn!r} ({', '.join(BATCHNORM_MODES)})")
        if bn == "sync":
            G, D = sync_batchnorm(G, device), sync_batchnorm(D, device)
        self.global_minibatch = global_minibatch_layers(D)
        if self.rank:   # dropout masks: rank 0 keeps the one-process stream, the others their own
            torch.manual_seed((seed + 1) * 1_000_003 + self.rank)
        ids = [device.index] if device.type == "cuda" else None
        # Synced statistics leave identical buffers on every rank: nothing to broadcast per forward
        # (local ones: rank 0's, so that its checkpoint resumes every rank).
        sync_kw = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(
            nn.parallel.DistributedDataParallel).parameters else "broadcast_buffers"
        wrap = lambda m: nn.parallel.DistributedDataParallel(  # noqa: E731
            m, device_ids=ids, **{sync_kw: bn == "local"})
        self._g_ddp, self._d_ddp = wrap(G), wrap(D)
        fwd = (lambda m: torch.compile(m)) if options.compile else (lambda m: m)
        self.nets = Nets(G, D, fwd(self._g_ddp), fwd(self._d_ddp))
        self.fm_loss = _global_feature_matching

    def _inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self._next_indices()                      # the global batch, the same on every rank
        mine = slice(self.rank * self.local, (self.rank + 1) * self.local)
        if self.cfg.augment == "none":
            real = self.data.get(idx[mine])
        else:   # augment the global batch so the noise stream is the one process's, keep my shard
            real = self.augment(self.data.get(idx), self.cfg.value_range, self.noise_gen)[mine]
        z = torch.randn((self.batch, *self.latent_shape), generator=self.noise_gen, device=self.device)
        return real, z[mine]

    def d_no_sync(self):
        return self._d_ddp.no_sync()

    def state(self) -> dict:
        """Loop state plus every rank's RNG state (collective: every rank calls it)."""
        s = super().state()
        mine = {"torch_rng": torch.get_rng_state()}
        if self.device.type == "cuda":
            mine["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        s["ranks"] = dd.gather_to_main(mine)
        s["world_size"] = self.world
        return s

    def load(self, ckpt: dict) -> int:
        step = super().load(ckpt)
        ranks = ckpt.get("ranks")
        if isinstance(ranks, list) and len(ranks) == self.world:
            torch.set_rng_state(ranks[self.rank]["torch_rng"])
            if "cuda_rng" in ranks[self.rank] and self.device.type == "cuda":
                torch.cuda.set_rng_state(ranks[self.rank]["cuda_rng"], self.device)
        elif self.rank == 0:
            was = ckpt.get("world_size", 1)
            print(f"note: resuming a {was}-process run with {self.world} processes: data order, "
                  "latents and weights continue exactly; dropout masks do not", file=sys.stderr)
        return step


def split_error(batch: int, world: int) -> str:
    """The message for a global batch that does not split into equal shards."""
    return (f"the global batch of {batch} does not split into {world} equal shards: use a process "
            f"count that divides it (equal shards keep DDP's averaged gradient the batch's gradient)")


# ----------------------------------------------------------------------------- the loop
def train_ddp(cfg: TrainConfig, run_dir: str | Path, *, experiment: str = "custom", variant: str = "run",
              seed: int = 0, device: str = "auto", data_root: str | None = None, resume: bool = False,
              steps: int | None = None, epochs: float | None = None, dataset=None, extra: dict | None = None,
              evaluate: Callable | None = None, callbacks: tuple[Callback, ...] = (),
              stop_after: int | None = None, options: LoopOptions = LoopOptions(),
              overwrite: bool = False) -> TrainResult:
    """:func:`trainers.loop.train` on every rank of a torchrun job (same arguments, same result).

    Rank 0 alone touches the run directory; ``evaluate`` runs on rank 0 at each snapshot;
    ``callbacks`` run on every rank.
    """
    t0 = time.time()
    dev = dd.init(device)
    main = dd.is_main()
    if not main:
        options = dataclasses.replace(options, progress=False)
    ds = (dataset or load_data(cfg, data_root, seed)).to(dev)
    config = resolve_config(cfg, ds, dev, experiment=experiment, variant=variant, seed=seed,
                            steps=steps, epochs=epochs, options=options, extra=extra)
    world = dd.world_size()
    run_dir = Path(run_dir)

    held = {}

    def prepare() -> bytes | None:        # rank 0: the run directory, and the checkpoint's bytes
        # one writer per run directory, taken before anything is read or deleted (as train() does)
        held["lock"] = acquire_run(run_dir, resume=resume, overwrite=overwrite)
        path = last_checkpoint(run_dir) if resume else None
        if path is None:
            clean_run_dir(run_dir)
            return None
        check_resumable(run_dir, config)
        read_checkpoint(path, "cpu")      # a corrupt file: the same one-line error on every rank
        return path.read_bytes()

    blob = dd.from_main(prepare)
    tr = DDPTrainer(cfg, config, ds, dev, options, seed)
    config["latent_shape"] = list(tr.latent_shape)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    config["distributed"] = {
        "world_size": world, "nodes": max(1, world // max(1, local_world)), "backend": dd.backend(),
        "global_batch": tr.batch, "per_rank_batch": tr.local,
        "batchnorm": options.batchnorm if has_batchnorm(tr.nets.G, tr.nets.D) else "none (no BatchNorm layers)",
        "noise": "global batch drawn on every rank from the seeded generators, each rank keeps its shard",
    }
    if tr.global_minibatch:
        config["distributed"]["minibatch_discrimination"] = "against the global batch (all_gather)"
    start, resuming = 0, blob is not None
    if resuming:
        start = tr.load(read_weights(io.BytesIO(blob), map_location=dev))
        del blob
    total = int(config["steps"])
    mon = RankMonitor(run_dir, config, resume=resuming, lock=held.get("lock"),
                      latent_shape=tr.latent_shape, value_range=cfg.g_output_range or (-1.0, 1.0),
                      kind=ds.kind, centres=ds.centres.cpu() if ds.centres is not None else None,
                      flush_every=options.flush_every, quiet=not options.progress)
    done = run_steps(tr, mon, start=start, total=total, snap_every=max(1, int(config["snapshot_every"])),
                     evaluate=evaluate, callbacks=callbacks, stop_after=stop_after, options=options,
                     desc=f"{experiment}/{variant} x{world}", postfix=main,
                     close=lambda ok: mon.close(collective=ok))
    return TrainResult(run_dir=run_dir, steps=done, total_steps=total, seconds=time.time() - t0,
                       device=str(dev), config=config)
