"""gan-diagnose: measure GAN runs and checkpoints and say what went wrong.

Public API (imported lazily so ``diagnose --help`` never pays for torch):
    Monitor          log any training loop into a run directory
    load_dataset     datasets by name (mnist, stacked-mnist, ring8, grid25, celeba, folder:PATH)
    read_run         read a run directory
    load_generator   load a generator checkpoint in any supported form
    UserError        the error class for problems a user can fix
"""
__version__ = "0.1.0"

_LAZY = {
    "Monitor": ("diagnose.monitor", "Monitor"),
    "load_dataset": ("diagnose.data", "load_dataset"),
    "read_run": ("diagnose.runs", "read_run"),
    "discover_runs": ("diagnose.runs", "discover_runs"),
    "load_generator": ("diagnose.loading", "load_generator"),
    "UserError": ("diagnose.errors", "UserError"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'diagnose' has no attribute {name!r}")


__all__ = list(_LAZY) + ["__version__"]
