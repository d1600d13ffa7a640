"""``diagnose validate``: run the tool on its ground-truth suite and print the accuracy table.

Generators built in code with a known truth (one image repeated, class means, copies of the
training set, noise, warps of held-out digits, 2D mixtures with modes dropped, a range mismatch)
go through the same loader, pipeline and rules as ``diagnose check``. Exit code 1 if any case
gets the wrong verdict.
"""
from __future__ import annotations

import sys

ORDER = 35
HELP = "check the checker: run the ground-truth suite and print case, expected, verdict, pass/fail"


def add_parser(sub) -> None:
    from diagnose.commands import add_json_flag

    p = sub.add_parser("validate", help=HELP, description=HELP)
    p.add_argument("--n-samples", type=int, default=None,
                   help="samples per case (default 2000; 1000 with --sweep)")
    p.add_argument("--only", default=None, metavar="TEXT", help="run only cases whose name contains TEXT")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--sweep", action="store_true",
                   help="run the graded suite instead (dials from healthy to broken, ~60 settings): "
                        "confusion matrix, flip points per dial, reliability table; --n-samples "
                        "defaults to 1000 there, --only selects dials")
    p.add_argument("--refit", action="store_true",
                   help="with --sweep: choose thresholds and fit confidences on the fit half and "
                        "print the tables of diagnose/analysis/calibration.py")
    p.add_argument("--logs", nargs="?", const="", default=None, metavar="DIR",
                   help="instead of the suite, judge every log of a corpus folder against its "
                        "expected.json (default DIR: the real-log corpus of a source checkout)")
    add_json_flag(p)
    p.set_defaults(func=run)


def table(rows: list[dict]) -> str:
    """The accuracy table as text."""
    w = max([len(r["case"]) for r in rows] + [4])
    lines = [f"{'case':<{w}}  {'expected':<17}{'verdict':<17}result  other flags"]
    for r in rows:
        other = ", ".join(c for c in r["flags"] if c != r["verdict"]) or "-"
        lines.append(f"{r['case']:<{w}}  {r['expected']:<17}{r['verdict']:<17}"
                     f"{'pass' if r['passed'] else 'FAIL':<8}{other}")
    ok = sum(r["passed"] for r in rows)
    lines.append(f"{ok}/{len(rows)} cases correct")
    return "\n".join(lines)


def run(args):
    """Run the suite (progress on stderr) and return the table; exit 1 on any failure."""
    from diagnose.analysis.groundtruth import run_validation
    from diagnose.commands import Result
    from diagnose.core.errors import UserError

    if args.logs is not None:
        return run_logs(args.logs)
    if args.n_samples is not None and not 100 <= args.n_samples <= 100_000:
        raise UserError(f"--n-samples must be between 100 and 100,000, got {args.n_samples}")
    if args.refit and not args.sweep:
        raise UserError("--refit needs --sweep")
    if args.sweep:
        return run_sweep(args)
    args.n_samples = args.n_samples or 2000

    def note(r):
        print(f"  {r['case']}: {r['verdict']} ({'pass' if r['passed'] else 'FAIL'})",
              file=sys.stderr, flush=True)

    rows = run_validation(n_samples=args.n_samples, device=args.device, only=args.only,
                          on_case=note)
    if not rows:
        raise UserError(f"--only {args.only!r} matches no case")
    failed = [r for r in rows if not r["passed"]]
    data = {"cases": rows, "passed": len(rows) - len(failed), "total": len(rows)}
    return Result(data=data, text=table(rows), exit_code=1 if failed else 0)


def run_sweep(args):
    """``--sweep``: the graded suite; confusion matrix, flip points, reliability (and --refit)."""
    from diagnose.analysis import sweep, sweep_report
    from diagnose.commands import Result
    from diagnose.core.errors import UserError

    n = args.n_samples or 1000

    def note(r):
        ok = "right" if r["predicted"] == r["truth"] else "WRONG"
        print(f"  {r['dial']}={r['value']}: {r['predicted']} ({ok}, truth {r['truth']})",
              file=sys.stderr, flush=True)

    rows = sweep.measure_all(n_samples=n, only=args.only, device=args.device, on_row=note)
    if not rows:
        raise UserError(f"--only {args.only!r} matches no dial")
    refit = sweep_report.do_refit(rows, n) if args.refit else None
    data, text = sweep_report.report(rows, n, refit={k: v for k, v in refit.items() if k != "rows"}
                                     if refit else None)
    return Result(data=data, text=text)


def run_logs(folder: str):
    """Judge a corpus of real training logs (progress on stderr); exit 1 if any file is wrong."""
    from pathlib import Path

    from diagnose.dynamics import corpus as logcorpus
    from diagnose.commands import Result
    from diagnose.core.errors import UserError

    if folder:
        if not Path(folder).is_dir():
            raise UserError(f"--logs {folder}: not a folder")
    else:
        found = logcorpus.default_dir()
        if found is None:
            raise UserError("--logs needs a folder here: no log corpus ships with this install")
        folder = str(found)

    def note(r):
        print(f"  {r['file']}: {r['verdict']} ({'pass' if r['passed'] else 'FAIL'})",
              file=sys.stderr, flush=True)

    rows = logcorpus.run_corpus(folder, on_file=note)
    ok = sum(r["passed"] for r in rows)
    data = {"folder": folder, "files": rows, "passed": ok, "total": len(rows)}
    return Result(data=data, text=logcorpus.table(rows), exit_code=0 if ok == len(rows) else 1)
