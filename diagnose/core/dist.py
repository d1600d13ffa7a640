"""Several processes, one job: torch.distributed as torchrun starts it (gloo on CPUs, NCCL on GPUs).

What the rest of the package needs from it, and nothing home-made where PyTorch has it:

- :func:`launched` / :func:`init`: is this process one rank of a torchrun job; join its process
  group on the rank's device (``cuda:LOCAL_RANK``, or the CPU with gloo).
- :func:`launch`: ``diagnose VERB ... --nproc N`` starts N copies of itself through
  torch.distributed's elastic launcher (what ``torchrun --standalone`` runs) and reports a failed
  rank in one line.
- :func:`from_main`: rank 0 does something (read the run directory) and every rank gets its
  result, or the same error; nothing assumes the ranks share a file system.
- :class:`diagnose.monitor.ranks.RankMonitor` (built on these): Monitor for a data-parallel loop.
- :func:`local_batchnorm`: lets rank 0 run a SyncBatchNorm model alone (sample grids) without
  waiting for a collective the other ranks never join.
"""
from __future__ import annotations

import contextlib
import os
import sys
from datetime import timedelta
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.nn as nn

from diagnose.core.errors import UserError

#: How long a rank waits for the others in one collective (rank 0 alone writes snapshots and,
#: with --evaluate, measures them while the others wait at the next step).
TIMEOUT = timedelta(minutes=int(os.environ.get("GAN_DIAGNOSE_DIST_TIMEOUT_MIN", "60")))


# ------------------------------------------------------------------------------ who am I
def launched() -> bool:
    """True in a process that torchrun (or ``--nproc``) started as one rank of a job."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def active() -> bool:
    """True when this process is in an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Global rank (0 outside a job)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of ranks (1 outside a job)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0, or a single process: the one that writes files and prints results."""
    return rank() == 0


def init(device: str = "auto", backend: str | None = None) -> torch.device:
    """Join the torchrun job's process group (once) and return this rank's device.

    ``device`` as on the command line: cuda (or auto with GPUs) gives ``cuda:LOCAL_RANK`` and the
    NCCL backend; cpu gives gloo. A job whose ranks outnumber the node's GPUs is a UserError.
    ``backend`` overrides the choice (gloo for a group that only exchanges Python objects).
    """
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise UserError("--device cuda asked for, but no CUDA device is available")
        if local >= torch.cuda.device_count():
            raise UserError(f"local rank {local} has no GPU: this node has {torch.cuda.device_count()}; "
                            "start at most that many processes per node (--nproc / --nproc-per-node)")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if not dist.is_initialized():
        import atexit

        backend = backend or ("nccl" if cuda else "gloo")
        dist.init_process_group(backend, timeout=TIMEOUT,
                                **({"device_id": dev} if backend == "nccl" else {}))
        atexit.register(_leave)
    return dev


def _leave() -> None:
    """Leave the process group at exit (a local call: ranks finish at different times)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def backend() -> str | None:
    """The process group's backend name, or None outside a job."""
    return dist.get_backend() if dist.is_available() and dist.is_initialized() else None


def comm_device() -> torch.device:
    """Where a collective's tensors must live: the rank's GPU under NCCL, else the CPU."""
    if backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def from_main(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on rank 0 and return its result on every rank (broadcast as a Python object).

    A UserError on rank 0 is raised on every rank with the same message, so every rank stops
    with the same one-line error instead of the others waiting in the next collective.
    """
    if not active():
        return fn()
    box: list = [None]
    if is_main():
        try:
            box[0] = ("ok", fn())
        except UserError as e:
            box[0] = ("error", str(e))
    dist.broadcast_object_list(box, src=0, device=comm_device())
    kind, value = box[0]
    if kind == "error":
        raise UserError(value)
    return value


def gather_to_main(obj: Any) -> list | None:
    """Every rank's ``obj``, in rank order, on rank 0 (None on the other ranks)."""
    if not active():
        return [obj]
    out = [None] * world_size() if is_main() else None
    dist.gather_object(obj, out, dst=0)
    return out


# ------------------------------------------------------------------------------ launching
def launch(argv: list[str], nproc: int, threads: int | None = None) -> int:
    """Run ``python -m diagnose *argv`` as ``nproc`` ranks on this machine; return the exit code.

    The ranks are started by torch.distributed's elastic launcher, as ``torchrun --standalone
    --nproc-per-node N`` does (a free local port, no restarts). On the CPU each rank gets
    ``threads`` intra-op threads (default: the cores split between the ranks). A rank that fails
    ends the job: its own ``error:`` line has been printed; a rank killed by a signal is reported
    here in one line.
    """
    import signal
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if "OMP_NUM_THREADS" not in os.environ:   # N ranks x all cores would oversubscribe the CPU
        os.environ["OMP_NUM_THREADS"] = str(threads or max(1, (os.cpu_count() or 1) // nproc))
    cfg = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                       rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
                       monitor_interval=0.2)
    _quiet_launcher_logs()
    try:
        elastic_launch(cfg, sys.executable)("-m", "diagnose", *argv)
    except ChildFailedError as e:
        codes = {r: f.exitcode for r, f in e.failures.items()}
        if any(c == 2 for c in codes.values()):
            return 2                     # a rank's input error: its error line is already out
        r, c = sorted(codes.items())[0]
        why = f"signal {signal.Signals(-c).name}" if c < 0 and -c in signal.valid_signals() else f"exit code {c}"
        print(f"error: rank {r} of {nproc} stopped ({why}); the other ranks were ended: whatever "
              "the run directory holds is intact, continue it with --resume", file=sys.stderr)
        return 1
    return 0


def _quiet_launcher_logs() -> None:
    """The elastic agent logs every worker-group event at WARNING; keep stderr to our own lines."""
    import logging

    for name in ("torch.distributed.elastic", "torch.distributed.launcher"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ------------------------------------------------------------------------------ BatchNorm
class _LocalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Plain BatchNorm over any input with channels in dim 1 (what a synced layer turns into
    while one rank runs the model alone; the maths of BatchNorm1d/2d/3d is the same)."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-d input (got {input.dim()}-d)")


def syncs(m: nn.Module) -> bool:
    return isinstance(m, nn.SyncBatchNorm) or getattr(m, "syncs_batch_statistics", False)


@contextlib.contextmanager
def local_batchnorm(*modules: nn.Module | None):
    """Within the block, synced BatchNorm layers of ``modules`` use this rank's batch only.

    A SyncBatchNorm in training mode all-reduces its statistics with every rank, so rank 0 drawing
    a sample grid alone would wait forever; here it computes what the same layer computes in one
    process. Weights and buffers are the same objects: only the layers' class changes, and back.
    """
    swapped = []
    for mod in modules:
        for m in (mod.modules() if mod is not None else ()):
            if syncs(m):
                swapped.append((m, m.__class__))
                m.__class__ = _LocalBatchNorm
    try:
        yield
    finally:
        for m, cls in swapped:
            m.__class__ = cls


def unwrap(module: nn.Module | None) -> nn.Module | None:
    """The model inside DistributedDataParallel and/or torch.compile wrappers."""
    while module is not None:
        if isinstance(module, nn.parallel.DistributedDataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module
    return module
