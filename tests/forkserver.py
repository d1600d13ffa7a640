"""The one multiprocessing forkserver of a test session, and what it imports before forking.

A process has a single forkserver: the first test that starts it fixes its preloaded modules for
every later test. So every test that forks from it asks for it here, with one list that covers
them all (kill/resume trials and distributed ranks); a module that cannot be imported is skipped
by the forkserver itself.
"""
from __future__ import annotations

import multiprocessing as mp

PRELOAD = ["torch", "torchvision", "torch.distributed", "PIL.Image",
           "diagnose.monitor", "diagnose.runs", "diagnose.monitor.ranks", "diagnose.analysis.sharded",
           "diagnose.analysis.pipeline", "diagnose.cli", "diagnose.commands.run",
           "trainers.experiments", "trainers.loop", "trainers.distributed",
           "badinputs.trainloops"]


def context():
    """The forkserver context, with :data:`PRELOAD` set (effective if it has not started yet)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx
