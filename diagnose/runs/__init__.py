"""The run directory: its files, the reader and writer, the checkpoint contract, the logged series.

    reader      read_run / discover_runs / RunWriter / JsonlAppender and the file names
    checkpoint  the checkpoint format, its one writer and its one weights-only reader
    series      the logged series (name, label, role) every part reads from metrics.jsonl
    lock        one writer per run directory

The reader's public names are importable from here: ``from diagnose.runs import read_run``.
"""
from diagnose.runs.reader import (  # noqa: F401  (re-exported)
    CHECKPOINTS, CONFIG, CONFIG_TYPES, DATASET_TYPES, EVALS, FIXED_LATENT, MAX_DEPTH, MAX_INT_DIGITS,
    MAX_STEP, METRICS, RUN_FILES, SAMPLES, VERDICT, WARNINGS, JsonlAppender, Run, RunWriter,
    clean_config, clean_verdict, discover_runs, is_run_dir, loads_bounded, parse_row, read_json_file,
    read_jsonl, read_run, remove_run, resolve_inside, run_artifacts, step_files, step_name,
    valid_latent_shape, valid_step,
)
