"""Writing a run directory from a training loop: the side of diagnose a user's own code calls.

    writer   Monitor: log(), snapshot(), write_verdict(), close()
    checks   the argument checks of Monitor.log
    ranks    RankMonitor and the torch.distributed helpers (one writer on rank 0)

Imported lazily: ``from diagnose.monitor import Monitor`` loads torch only then.
"""
from diagnose.core.lazy import lazy_getattr

_LAZY = {
    "Monitor": ("diagnose.monitor.writer", "Monitor"),
    "FORMAT": ("diagnose.runs.checkpoint", "FORMAT"),
    "versions": ("diagnose.monitor.writer", "versions"),
    "RankMonitor": ("diagnose.monitor.ranks", "RankMonitor"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)
