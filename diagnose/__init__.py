"""gan-diagnose: measure GAN runs and checkpoints and say what went wrong.

Public API (imported lazily so ``diagnose --help`` never pays for torch):
    Monitor          log any training loop into a run directory
    load_dataset     datasets by name (mnist, stacked-mnist, ring8, grid25, celeba, folder:PATH)
    read_run         read a run directory
    load_generator   load a generator checkpoint in any supported form
    UserError        the error class for problems a user can fix
"""
from diagnose.lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "Monitor": ("diagnose.monitor", "Monitor"),
    "load_dataset": ("diagnose.data", "load_dataset"),
    "read_run": ("diagnose.runs", "read_run"),
    "discover_runs": ("diagnose.runs", "discover_runs"),
    "load_generator": ("diagnose.loading", "load_generator"),
    "UserError": ("diagnose.errors", "UserError"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY) + ["__version__"]
