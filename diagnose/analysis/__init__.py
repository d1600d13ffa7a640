"""The analysis layer: reference stage, metrics pipeline, verdict rules, ground-truth suite.

    judge_generator(loaded, config, dataset=..., discriminator=None) -> Judged   (the one path)
    check_generator(loaded, dataset_name, ...) -> verdict dict        (its keyword form)
    snapshot_evaluator(dataset_name, ...) -> callable(step, G) -> dict (Monitor.snapshot)
    run_validation(...) -> list of case results                      (diagnose validate)

Imported lazily so ``import diagnose.analysis`` stays cheap.
"""
from diagnose.core.lazy import lazy_getattr

_LAZY = {
    "judge_generator": ("diagnose.analysis.judge", "judge_generator"),
    "PROTOCOLS": ("diagnose.analysis.protocols", "PROTOCOLS"),
    "check_generator": ("diagnose.analysis.judge", "check_generator"),
    "CheckConfig": ("diagnose.analysis.protocols", "CheckConfig"),
    "snapshot_evaluator": ("diagnose.analysis.snapshot", "snapshot_evaluator"),
    "run_validation": ("diagnose.analysis.groundtruth", "run_validation"),
    "StageCache": ("diagnose.analysis.cache", "StageCache"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)
