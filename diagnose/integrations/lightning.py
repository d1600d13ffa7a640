"""A PyTorch Lightning callback that logs a GAN's training through :class:`diagnose.Monitor`.

    from diagnose.integrations.lightning import DiagnoseCallback
    trainer = L.Trainer(callbacks=[DiagnoseCallback("runs/mine", dataset="mnist")])

Every training batch, the scalars the LightningModule logged (``self.log("d_loss", ...)``; names
such as ``loss_D``, ``train/g_loss`` or ``D(x)`` are recognised as the dynamics readers do) go
to metrics.jsonl; every ``snapshot_every`` batches a sample grid and a checkpoint of the module's
generator and discriminator; the live detectors print a warning line (and warnings.jsonl) as soon
as a problem shows, and ``stop_on`` ends training. At the end, with ``dataset`` given, the run
gets its verdict.json. Works with ``lightning`` or the older ``pytorch_lightning`` package.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

try:  # the unified package first, then the standalone one
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - depends on what is installed
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError:
        raise ImportError("diagnose.integrations.lightning needs PyTorch Lightning: "
                          "pip install lightning") from None

import torch

#: Attribute names tried, in order, for the generator and the discriminator of a LightningModule.
GENERATOR_ATTRS = ("generator", "G", "netG", "gen", "g")
DISCRIMINATOR_ATTRS = ("discriminator", "D", "netD", "disc", "critic", "d")


def _find(module, names: Iterable[str]):
    for n in names:
        m = getattr(module, n, None)
        if isinstance(m, torch.nn.Module):
            return m
    return None


class DiagnoseCallback(Callback):
    """Log a Lightning GAN through Monitor and warn live.

    run_dir:        the run directory to write
    dataset:        the real data (mnist, stacked-mnist, ring8, grid25, folder:PATH); when given,
                    the run's verdict.json is written at the end of training
    generator:      attribute name of G on the LightningModule, or a callable(module) -> G
                    (default: the first of GENERATOR_ATTRS that exists)
    discriminator:  the same for D (default: DISCRIMINATOR_ATTRS)
    snapshot_every: batches between sample grids + checkpoints (0: only at the end)
    detect_every:   batches between live detector passes
    stop_on:        verdict codes that stop training when a live detector raises them
    monitor_kwargs: passed to Monitor (latent_shape, value_range, kind, keep_last, ...)
    """

    def __init__(self, run_dir, *, dataset: str | None = None,
                 generator: str | Callable | None = None,
                 discriminator: str | Callable | None = None, snapshot_every: int = 500,
                 detect_every: int = 200, stop_on: Iterable[str] = (), config: dict | None = None,
                 **monitor_kwargs: Any):
        self.run_dir, self.dataset = run_dir, dataset
        self.generator, self.discriminator = generator, discriminator
        self.snapshot_every, self.detect_every = int(snapshot_every), int(detect_every)
        self.stop_on, self.config, self.monitor_kwargs = tuple(stop_on), config, monitor_kwargs
        self.monitor = None
        self.batches = 0

    # ------------------------------------------------------------------ the module's G and D
    def _module(self, pl_module, which, names):
        if callable(which) and not isinstance(which, torch.nn.Module):
            return which(pl_module)
        if isinstance(which, str):
            return getattr(pl_module, which)
        return _find(pl_module, names)

    def _g(self, pl_module):
        G = self._module(pl_module, self.generator, GENERATOR_ATTRS)
        if G is None:
            raise AttributeError("DiagnoseCallback found no generator on the LightningModule "
                                 f"(tried {', '.join(GENERATOR_ATTRS)}): pass generator='name'")
        return G

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer, pl_module) -> None:
        """Open the Monitor (rank zero only) with the module's hyperparameters as config."""
        if not trainer.is_global_zero or self.monitor is not None:
            return
        from diagnose.monitor import Monitor

        hp = dict(getattr(pl_module, "hparams", {}) or {})
        config = {**{k: v for k, v in hp.items() if isinstance(v, (int, float, str, bool))},
                  **(self.config or {}), "framework": "lightning"}
        self.monitor = Monitor(self.run_dir, config=config, detectors=True,
                               detect_every=self.detect_every, stop_on=self.stop_on,
                               dataset=self.dataset, **self.monitor_kwargs)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Log this batch's scalars; snapshot every ``snapshot_every`` batches; stop on request."""
        mon = self.monitor
        if mon is None:
            return
        step = self.batches
        self.batches += 1
        values = {}
        for k, v in trainer.callback_metrics.items():
            if k.endswith("_epoch"):          # epoch aggregates are not this step's values
                continue
            if torch.is_tensor(v) and v.numel() == 1:
                values[k[:-5] if k.endswith("_step") else k] = v.detach()
            elif isinstance(v, (int, float)):
                values[k[:-5] if k.endswith("_step") else k] = v
        mon.log(step, **values)
        if self.snapshot_every and step % self.snapshot_every == 0:
            self._snapshot(pl_module, step)
        if mon.should_stop:
            trainer.should_stop = True

    def _snapshot(self, pl_module, step: int) -> None:
        D = self._module(pl_module, self.discriminator, DISCRIMINATOR_ATTRS)
        self.monitor.snapshot(step, self._g(pl_module), D)

    def on_train_end(self, trainer, pl_module) -> None:
        """A last snapshot, then close the Monitor (which writes verdict.json with ``dataset``)."""
        mon = self.monitor
        if mon is None:
            return
        if self.batches:
            self._snapshot(pl_module, self.batches - 1)
        mon.close()
        self.monitor = None
