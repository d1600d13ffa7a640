"""gan-diagnose: measure GAN runs and checkpoints and say what went wrong.

Public API (imported lazily so ``diagnose --help`` never pays for torch):
    check            verdict on a generator: check(G_or_path, dataset="mnist") -> Verdict
    judge_logs       verdict on a training log (losses only): judge_logs("train.log") -> Verdict
    verdict_for_run  verdict of a run directory (dynamics + samples), writes verdict.json
    Verdict          what those return: .code, .flags, .metrics, .to_json(), .to_dict()
    Monitor          log any training loop into a run directory
    load_dataset     datasets by name (mnist, stacked-mnist, ring8, grid25, celeba, folder:PATH)
    read_run         read a run directory
    load_generator   load a generator checkpoint in any supported form
    UserError        the error class for problems a user can fix
"""
from diagnose.core.lazy import lazy_getattr
from diagnose.core.version import VERSION

__version__ = VERSION

_LAZY = {
    "check": ("diagnose.api", "check"),
    "judge_logs": ("diagnose.api", "judge_logs"),
    "verdict_for_run": ("diagnose.api", "verdict_for_run"),
    "Verdict": ("diagnose.core.verdict", "Verdict"),
    "Monitor": ("diagnose.monitor", "Monitor"),
    "load_dataset": ("diagnose.data", "load_dataset"),
    "read_run": ("diagnose.runs", "read_run"),
    "discover_runs": ("diagnose.runs", "discover_runs"),
    "load_generator": ("diagnose.generators.load", "load_generator"),
    "UserError": ("diagnose.core.errors", "UserError"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY) + ["__version__"]
