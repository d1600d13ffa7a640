"""Training dynamics: read how a GAN trained and say what went wrong, with steps and numbers.

    detect(table)                      -> list[Flag]
    analyze(path_or_table, format="auto", pattern=None) -> verdict dict (the schema of diagnose.core.verdict)
    analyze_run(run_dir)               -> verdict dict of a run directory
    judge_logs(path, format="auto", mapping=None) -> verdict dict, or a list for a folder of runs
    ingest(path, format, pattern)      -> Table (run dir, TensorBoard, CSV, JSONL, text)

Live use inside a training loop goes through ``diagnose.Monitor(..., detectors=True)``
(:mod:`diagnose.dynamics.live`).
"""
from __future__ import annotations

from pathlib import Path

from diagnose.dynamics.context import DEFAULT, Thresholds
from diagnose.dynamics.detectors import DETECTORS, detect
from diagnose.dynamics.ingest import FORMATS, ingest
from diagnose.dynamics.judge import analyze, analyze_run, series_summary
from diagnose.dynamics.table import SERIES, Table

__all__ = ["detect", "analyze", "analyze_run", "judge_logs", "ingest", "Table", "Thresholds",
           "DETECTORS", "FORMATS", "SERIES", "series_summary"]


def judge_logs(path: str | Path, format: str = "auto", mapping: dict | None = None,
               pattern: str | None = None, thresholds: Thresholds = DEFAULT):
    """Judge training logs at ``path``: one verdict dict, or a list of them for a folder holding
    several runs (TensorBoard runs, Lightning versions, run directories). See
    :mod:`diagnose.dynamics.folders`."""
    from diagnose.dynamics.folders import judge_logs as _judge

    return _judge(path, format=format, mapping=mapping, pattern=pattern, thresholds=thresholds)
