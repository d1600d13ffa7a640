"""Log folders as people have them: one verdict per training run found in a path.

    judge_logs(path, format="auto", mapping=None, pattern=None) -> verdict dict, or a list of them

- a run directory (config.json / metrics.jsonl): its dynamics verdict, with the stored full
  verdict (verdict.json, samples included) beside it when there is one;
- PyTorch Lightning's ``version_N/`` (``metrics.csv`` and/or event files): metrics.csv, rows of one
  step merged, ``*_step`` and ``*_epoch`` series kept apart (the step series are judged);
- a TensorBoard logdir: one verdict per run (each top-most folder holding event files);
- a folder of run directories, or of Lightning versions: one verdict per run;
- a file: the one verdict of :func:`diagnose.dynamics.analyze`.

A run that cannot be read inside a folder of several is listed with its one-line error; only when
none can be read is it an error of the whole path.
"""
from __future__ import annotations

from pathlib import Path

from diagnose.dynamics.context import DEFAULT, Thresholds
from diagnose.core.errors import UserError

LOOKED_AT_LOGS = "losses only (training dynamics read from the logged scalars)"
LOOKED_AT_FULL = "samples and losses (the run's stored verdict: generated samples measured)"


def _lightning_version(d: Path) -> bool:
    return d.is_dir() and ((d / "metrics.csv").is_file() or any(d.glob("*tfevents*")) and
                           (d / "hparams.yaml").is_file())


def find_runs(path: Path) -> list[tuple[Path, str]]:
    """(path, format) of every training run under ``path`` (a directory), in a stable order."""
    from diagnose.dynamics.ingest_tb import has_event_files, tb_runs
    from diagnose.runs import discover_runs, is_run_dir

    if is_run_dir(path):
        return [(path, "run")]
    if _lightning_version(path):
        return [(path / "metrics.csv", "csv") if (path / "metrics.csv").is_file()
                else (path, "tensorboard")]
    versions = sorted((d for d in path.rglob("version_*") if _lightning_version(d)), key=str)
    if versions:
        return [(v / "metrics.csv", "csv") if (v / "metrics.csv").is_file() else (v, "tensorboard")
                for v in versions]
    runs = discover_runs(path)
    if runs:
        return [(r, "run") for r in runs]
    if has_event_files(path):
        return [(r, "tensorboard") for r in tb_runs(path)]
    return []


def judge_logs(path: str | Path, format: str = "auto", mapping: dict | None = None,
               pattern: str | None = None, thresholds: Thresholds = DEFAULT):
    """Judge the training logs at ``path``: a verdict dict, or a list of them for a folder that
    holds several runs (see the module docstring). ``mapping`` ({role: series name,
    "family": name}) overrides the inferred roles and loss family."""
    from diagnose.dynamics.judge import analyze

    path = Path(path)
    if not path.exists():
        raise UserError(f"no such file or directory: {path}")
    if not path.is_dir() or format not in ("auto", "run", "tensorboard"):
        return analyze(path, format=format, pattern=pattern, thresholds=thresholds, mapping=mapping)
    runs = find_runs(path)
    if format == "tensorboard":
        from diagnose.dynamics.ingest_tb import tb_runs

        runs = [(r, "tensorboard") for r in tb_runs(path)] or [(path, "tensorboard")]
    if not runs:
        return analyze(path, format=format, pattern=pattern, thresholds=thresholds, mapping=mapping)
    out, errors = [], []
    for run, fmt in runs:
        try:
            v = analyze(run, format=fmt if format == "auto" else format, pattern=pattern,
                        thresholds=thresholds, mapping=mapping,
                        subject=str(run.parent if run.name == "metrics.csv" else run))
        except UserError as e:
            errors.append(str(e))
            out.append({"subject": str(run), "verdict": None, "error": str(e)})
            continue
        if fmt == "run":
            attach_stored_verdict(v, run)
        out.append(v)
    if len(errors) == len(out):
        what = "run directories" if all(f == "run" for _, f in runs) else "runs"
        raise UserError(f"{path}: none of its {len(out)} {what} could be read ({errors[0]})")
    return out[0] if len(out) == 1 else out


def attach_stored_verdict(v: dict, run_dir: Path) -> None:
    """Put the run's stored verdict.json (samples measured) beside the dynamics verdict, and say
    what each looked at; a stored verdict that cannot be read is noted, never fatal."""
    from diagnose.runs import read_json_file

    v.setdefault("dynamics", {})["looked_at"] = LOOKED_AT_LOGS
    p = Path(run_dir) / "verdict.json"
    if not p.is_file():
        return
    stored = read_json_file(p)
    if not isinstance(stored, dict) or not isinstance(stored.get("verdict"), str):
        v["stored_verdict"] = {"error": "verdict.json is unreadable or not a verdict"}
        return
    used = stored.get("evidence_used") if isinstance(stored.get("evidence_used"), dict) else {}
    looked = LOOKED_AT_FULL if used.get("samples") or stored.get("metrics") else \
        "losses only (the stored verdict had no samples to measure)"
    v["stored_verdict"] = {"verdict": stored.get("verdict"), "confidence": stored.get("confidence"),
                           "looked_at": looked,
                           "flags": [f for f in stored.get("flags", []) if isinstance(f, dict)],
                           "metrics": stored.get("metrics") if isinstance(stored.get("metrics"),
                                                                          dict) else {}}
