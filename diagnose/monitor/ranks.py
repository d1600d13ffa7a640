"""RankMonitor: ``diagnose.Monitor`` for a data-parallel loop under torchrun.

Every rank logs; once per flush the buffered values of every rank are averaged in ONE all-reduce
and only rank 0 writes the run directory (metrics, snapshots, checkpoints, verdicts). The process
group helpers it stands on are in diagnose/core/dist.py.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn

from diagnose.core.dist import comm_device, local_batchnorm, rank, unwrap, world_size


# ------------------------------------------------------------------------------ the monitor
class RankMonitor:
    """``diagnose.Monitor`` for a data-parallel loop: call it on every rank with the same steps.

    ``log`` buffers each rank's values (0-d tensors stay on the device). Every ``flush_every``
    steps, at each snapshot and at close, all ranks flush together: every buffered tensor of
    the flush is stacked into one vector and averaged across ranks in one all-reduce (each rank
    saw an equal shard of the global batch, so the average of the ranks' batch means is the
    global batch mean). Rank 0 hands the averages to a real :class:`~diagnose.monitor.Monitor`,
    which writes the run directory; the other ranks write nothing. Plain numbers (learning
    rates, the epoch) are the same on every rank and are taken from rank 0.

    ``should_stop`` (a live detector on rank 0 asking to stop) reaches every rank at the same
    flush, so they all stop after the same step. Outside a job it behaves as one Monitor.
    """

    def __init__(self, run_dir: str | Path, config: dict | None = None, **monitor_kwargs):
        from diagnose.monitor import Monitor

        self.rank, self.world = rank(), world_size()
        self.monitor = Monitor(run_dir, config, **monitor_kwargs) if self.rank == 0 else None
        self.dir = Path(run_dir)
        self.flush_every = max(1, int(monitor_kwargs.get("flush_every", 100)))
        self._buf: list[tuple[int, float, dict]] = []
        self._stop_pending = False
        self.should_stop = False
        self.stop_reason: str | None = None
        self._closed = False

    def log(self, step: int, **values: Any) -> None:
        """Record one step's values on this rank (floats or tensors; None = absent)."""
        vals = {k: (v.detach() if isinstance(v, torch.Tensor) else v)
                for k, v in values.items() if v is not None}
        self._buf.append((int(step), time.time(), vals))
        if len(self._buf) >= self.flush_every:
            self.flush()

    def flush(self) -> list[dict]:
        """Average the buffered values across ranks (one all-reduce); rank 0 writes them.

        Collective: every rank must call it at the same point. Returns the rows written (rank 0).
        """
        buf, self._buf = self._buf, []
        slots = [(i, k, v.float().mean() if v.numel() != 1 else v.float().reshape(()))
                 for i, (_, _, vals) in enumerate(buf) for k, v in vals.items() if isinstance(v, torch.Tensor)]
        if self.world > 1:
            dev = comm_device()
            parts = [t.reshape(1).to(dev) for _, _, t in slots]
            flag = torch.tensor([1.0 if self._stop_pending else 0.0], device=dev)
            vec = torch.cat(parts + [flag])
            dist.all_reduce(vec)                        # the one collective of this flush
            host = (vec[:-1] / self.world).cpu().tolist()
            stop = bool(vec[-1].item() > 0)             # only rank 0 ever contributes 1
        else:
            host = torch.stack([t for _, _, t in slots]).cpu().tolist() if slots else []
            stop = self._stop_pending
        if stop and not self.should_stop:
            self.should_stop = True
        if self.monitor is None or not buf:
            return []
        rows = [dict((k, v) for k, v in vals.items() if not isinstance(v, torch.Tensor)) for _, _, vals in buf]
        for (i, k, _), val in zip(slots, host):
            rows[i][k] = val
        for (step, t, _), row in zip(buf, rows):
            self.monitor.log(step, wall_time=t, **row)
        written = self.monitor.flush()
        if self.monitor.should_stop:                    # tell the other ranks at the next flush
            self._stop_pending = True
            self.stop_reason = self.monitor.stop_reason
        return written

    def snapshot(self, step: int, generator: nn.Module, discriminator: nn.Module | None = None,
                 **kwargs) -> dict:
        """Flush (collective), then rank 0 writes the grid, the checkpoint and any evaluation.

        The models may be DDP-wrapped and use SyncBatchNorm: rank 0 uses the inner models with
        its own batch statistics (see :func:`local_batchnorm`), as one process would.
        """
        self.flush()
        if self.monitor is None:
            return {}
        G, D = unwrap(generator), unwrap(discriminator)
        with local_batchnorm(G, D):
            return self.monitor.snapshot(step, G, D, **kwargs)

    def log_eval(self, step: int, metrics: dict) -> bool:
        """Append an evaluation to evals.jsonl (rank 0; a no-op elsewhere)."""
        return self.monitor.log_eval(step, metrics) if self.monitor is not None else False

    def write_verdict(self, verdict: dict) -> None:
        """Write verdict.json (rank 0; a no-op elsewhere)."""
        if self.monitor is not None:
            self.monitor.write_verdict(verdict)

    def close(self, collective: bool = True) -> None:
        """Flush together and close rank 0's files. ``collective=False`` after an error on this
        rank: close without the final all-reduce (the other ranks may never reach it)."""
        if self._closed:
            return
        self._closed = True
        if collective:
            self.flush()
        if self.monitor is not None:       # after an error the unreduced steps are dropped,
            self.monitor.close()           # as a kill would: --resume recomputes them

    def __enter__(self) -> "RankMonitor":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(collective=exc_type is None)
