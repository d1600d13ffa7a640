"""``diagnose run`` on several processes: ``--nproc N`` (one variant data-parallel on N ranks) and
``--parallel K`` (K variants at once, one process each; the flags are in diagnose.commands.run),
both started by torch.distributed's launcher; and the same command started by a user's own
``torchrun ... -m diagnose run``.

Outside a job, :func:`start` checks the arguments (one ``error:`` line before any process starts)
and relaunches the command as N or K ranks. Inside a job it joins the process group; the run
command then asks :func:`my_variants` which variants this rank trains, :func:`writes` whether
this rank writes verdicts and result rows, and :func:`collect` for the table on rank 0.
"""
from __future__ import annotations

import os

from diagnose.core.errors import UserError

def start(args, variants) -> int | None:
    """Before training: relaunch as a job (returns the launcher's exit code) or join one (None)."""
    from diagnose.core import dist as dd

    nproc, parallel = int(getattr(args, "nproc", 1)), int(getattr(args, "parallel", 1))
    if nproc < 1 or parallel < 1:
        raise UserError("--nproc and --parallel must be at least 1")
    if nproc > 1 and parallel > 1:
        raise UserError("--nproc (one variant on N processes) and --parallel (K variants at once) "
                        "do not combine: choose one")
    if dd.launched():
        from trainers.distributed import set_sweep

        if parallel > 1:
            set_sweep(True)
            dev = dd.init(args.device, backend="gloo")   # the group only gathers the table rows
            args.device = str(dev) if dev.type == "cuda" else args.device
        else:
            dd.init(args.device)
        if not dd.is_main():
            args.json = False       # rank 0 alone prints the result
        return None
    n = nproc if nproc > 1 else parallel
    if n == 1:
        return None
    _check_before_launch(args, variants, nproc)
    args.json = False           # rank 0 printed the result (JSON or table) already
    return dd.launch(list(getattr(args, "argv", None) or []), n, threads=args.threads or None)


def _check_before_launch(args, variants, nproc: int) -> None:
    """The errors every rank would hit, said once before any process starts."""
    import torch

    if not getattr(args, "argv", None):
        raise UserError("--nproc/--parallel need the command line to relaunch (call diagnose.cli.main)")
    want_cuda = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    n = max(nproc, int(args.parallel))
    if want_cuda and n > torch.cuda.device_count():
        raise UserError(f"{n} processes asked for, but this machine has {torch.cuda.device_count()} "
                        "GPU(s): one process per GPU")
    if nproc > 1:
        from trainers.distributed import split_error

        for v, cfg in variants:
            if cfg.batch_size % nproc:
                raise UserError(f"{v}: " + split_error(cfg.batch_size, nproc))


def my_variants(items: list) -> list:
    """The variants this rank trains: all of them (one process, or data-parallel), or in a sweep
    every K-th starting at the rank (a fixed split: the same rank always trains the same ones)."""
    from diagnose.core import dist as dd
    from trainers.distributed import data_parallel

    if dd.active() and not data_parallel():
        return items[dd.rank()::dd.world_size()]
    return items


def writes() -> bool:
    """Whether this rank writes verdicts and result rows: rank 0 of a data-parallel job, every
    rank of a sweep (each owns its variants), the one process otherwise."""
    from diagnose.core import dist as dd
    from trainers.distributed import data_parallel

    return dd.is_main() or not data_parallel()


def collect(rows: list[dict], order: list[str]) -> list[dict] | None:
    """Every rank's result rows on rank 0 in the experiment's variant order; None elsewhere."""
    from diagnose.core import dist as dd

    if not dd.active():
        return rows
    parts = dd.gather_to_main(rows)
    if parts is None:
        return None
    got = {r["variant"]: r for part in parts for r in part}
    return [got[v] for v in order if v in got]


def threads_per_rank() -> int | None:
    """OMP threads the launcher gave this rank, if any (recorded with the run)."""
    v = os.environ.get("OMP_NUM_THREADS")
    return int(v) if v and v.isdigit() else None
