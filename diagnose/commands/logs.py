"""``diagnose logs PATH``: read training logs (run dir, TensorBoard, Lightning, CSV, JSONL, text)
and judge them; a folder holding several runs gets one verdict per run.

Exit 0 whatever the verdict; exit 2 (one line) when the input cannot be read as a training log.
"""
from __future__ import annotations

ORDER = 30
HELP = "judge training dynamics from logs: run dir, TensorBoard/Lightning dir, CSV, JSONL or text"
_FORMATS = ("auto", "run", "tensorboard", "csv", "jsonl", "text")   # = diagnose.dynamics.FORMATS


def add_parser(sub) -> None:
    from diagnose.commands import add_json_flag

    p = sub.add_parser("logs", help=HELP, description=HELP + ". Finds D/G losses, D(x) and "
                       "D(G(z)) without configuration (from names, value ranges and the other "
                       "series present), infers the loss family (BCE, WGAN, hinge, least "
                       "squares, relativistic) and flags d_overpowering, d_not_learning, "
                       "d_fooled, inconsistent_losses, oscillation and diverged. A folder with "
                       "several runs (TensorBoard runs, lightning_logs/version_N, run "
                       "directories) gets one verdict per run.")
    p.add_argument("path", metavar="PATH", help="run directory, TensorBoard or Lightning log dir, "
                   "a folder of runs, or a log file")
    p.add_argument("--format", default="auto", choices=_FORMATS,
                   help="how to read PATH (default: detect)")
    p.add_argument("--pattern", default=None, metavar="REGEX",
                   help="regex with named groups d_loss, g_loss, d_real, d_fake, step, epoch, "
                        "applied to each line of a text log")
    p.add_argument("--map", action="append", default=None, metavar="ROLE=SERIES",
                   help="take SERIES (a name as the log writes it) as ROLE: d_loss, g_loss, "
                        "d_real, d_fake, grad_norm_d, grad_norm_g, lr_d, lr_g; or "
                        "family=bce|wgan|hinge|lsgan|relativistic. Repeatable; overrides what "
                        "was inferred")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args):
    """Ingest, detect, render (one verdict, or one per run of a folder)."""
    from pathlib import Path

    from diagnose.commands import Result
    from diagnose.dynamics import analyze, ingest
    from diagnose.dynamics.folders import attach_stored_verdict, judge_logs
    from diagnose.dynamics.report import render, render_many
    from diagnose.dynamics.roles import parse_map
    from diagnose.runs import is_run_dir

    mapping = parse_map(args.map)
    path = Path(args.path)
    if path.is_dir() and args.format in ("auto", "run", "tensorboard"):
        if args.format in ("auto", "run") and is_run_dir(path):
            table = ingest(path, format="run", pattern=args.pattern, mapping=mapping)
            verdict = analyze(table, subject=str(path))
            attach_stored_verdict(verdict, path)
            return Result(data=verdict, text=render(verdict, table))
        verdicts = judge_logs(path, format=args.format, mapping=mapping, pattern=args.pattern)
        if isinstance(verdicts, list):
            return Result(data=verdicts, text=render_many(verdicts))
        return Result(data=verdicts, text=render(verdicts))
    table = ingest(path, format=args.format, pattern=args.pattern, mapping=mapping)
    verdict = analyze(table, subject=str(path))
    return Result(data=verdict, text=render(verdict, table))
