"""``diagnose logs PATH``: read a training log (run dir, TensorBoard, CSV, JSONL, text) and judge it.

Exit 0 whatever the verdict; exit 2 (one line) when the input cannot be read as a training log.
"""
from __future__ import annotations

ORDER = 30
HELP = "judge training dynamics from a log: run dir, TensorBoard dir, CSV, JSONL or text"
_FORMATS = ("auto", "run", "tensorboard", "csv", "jsonl", "text")   # = diagnose.dynamics.FORMATS


def add_parser(sub) -> None:
    from diagnose.cli import add_json_flag

    p = sub.add_parser("logs", help=HELP, description=HELP + ". Finds D/G losses, D(x) and "
                       "D(G(z)) without configuration and flags d_overpowering, d_not_learning, "
                       "d_fooled, inconsistent_losses, oscillation and diverged.")
    p.add_argument("path", metavar="PATH", help="run directory, TensorBoard log dir, or log file")
    p.add_argument("--format", default="auto", choices=_FORMATS,
                   help="how to read PATH (default: detect)")
    p.add_argument("--pattern", default=None, metavar="REGEX",
                   help="regex with named groups d_loss, g_loss, d_real, d_fake, step, epoch, "
                        "applied to each line of a text log")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args):
    """Ingest, detect, render."""
    from diagnose.commands import Result
    from diagnose.dynamics import analyze, ingest
    from diagnose.dynamics.report import render

    table = ingest(args.path, format=args.format, pattern=args.pattern)
    verdict = analyze(table)
    return Result(data=verdict, text=render(verdict, table))
