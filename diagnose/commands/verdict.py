"""``diagnose verdict RUN_DIR``: write the verdict.json of any run directory.

The same verdict ``diagnose run`` writes for its own runs, for a user's Monitor run too: the
training dynamics of metrics.jsonl plus a sample check of the last checkpoint (its generator
rebuilt from the architecture Monitor recorded, or ``--arch``), against the dataset config.json
records, ``--dataset``, or the one shipped dataset that fits the generator's output.
"""
from __future__ import annotations

import sys

ORDER = 32
HELP = "write verdict.json for a run directory (dynamics + a sample check of its last checkpoint)"


def add_parser(sub) -> None:
    from diagnose.analysis.protocols import PROTOCOLS
    from diagnose.commands import add_json_flag
    from diagnose.commands.check import FAIL_ON_HELP

    n = PROTOCOLS["run"].n_samples
    p = sub.add_parser("verdict", help=HELP, description=HELP + ". Works on runs of `diagnose run` "
                       "and on any directory a training loop wrote through diagnose.Monitor.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (config.json, "
                   "metrics.jsonl, checkpoints/)")
    p.add_argument("--dataset", "--real", dest="dataset", default=None, metavar="NAME",
                   help="real data of the sample check (default: config.json's, else the one "
                   "shipped dataset that fits the generator's output)")
    p.add_argument("--data-root", default=None, help="where full datasets live (no download)")
    p.add_argument("--n-samples", type=int, default=n, help=f"samples of the check (default {n})")
    p.add_argument("--no-samples", action="store_true", help="judge the logged dynamics only")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--fail-on", default=None, metavar="CODES|fail|warn", help=FAIL_ON_HELP)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args):
    """Judge the run, write RUN_DIR/verdict.json, return it."""
    from pathlib import Path

    from diagnose.analysis.judge import known_dataset
    from diagnose.commands import Result
    from diagnose.commands.check import _device, parse_fail_on
    from diagnose.core.errors import UserError
    from diagnose.runs import CHECKPOINTS, METRICS
    from diagnose.analysis.run_verdict import judge_run

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"no such run directory: {run_dir}")
    if not (run_dir / METRICS).is_file() and not (run_dir / CHECKPOINTS).is_dir():
        raise UserError(f"{run_dir} is not a run directory: it has neither {METRICS} nor "
                        f"{CHECKPOINTS}/ (diagnose.Monitor writes both)")
    if args.dataset:
        known_dataset(args.dataset)
    if not 20 <= args.n_samples <= 1_000_000:
        raise UserError(f"--n-samples must be between 20 and 1,000,000, got {args.n_samples}")
    fail_on = parse_fail_on(args.fail_on)
    device = _device(args.device)

    def builder(config):
        import trainers  # only the CLI reaches trainers, and only inside the handler

        return trainers.build_generator(config)

    def d_builder(config):
        from trainers.build import build_discriminator

        return build_discriminator(config)

    v = judge_run(run_dir, builder=builder, d_builder=d_builder, samples=not args.no_samples,
                  n_samples=args.n_samples, device=device, data_root=args.data_root,
                  progress=True, dataset=args.dataset)
    used = v.get("evidence_used") or {}
    if not any(used.values()):
        why = v.get("samples_error") or "no readable step in metrics.jsonl and no checkpoint"
        raise UserError(f"nothing to judge in {run_dir}: {why}")
    if v.get("samples_error"):
        print(f"note: dynamics only: {v['samples_error']}", file=sys.stderr)
    text = render_run(v)
    return Result(data=v, text=text, exit_code=1 if fail_on and fail_on(v) else 0)


def render_run(v: dict) -> str:
    """The readable run verdict: the evidence it used, then the check report."""
    from diagnose.commands.check import render

    used = v.get("evidence_used") or {}
    parts = [k for k, on in (("training dynamics (losses, D outputs)", used.get("dynamics")),
                             ("samples of the last generator", used.get("samples")),
                             ("the discriminator probe", used.get("discriminator"))) if on]
    head = f"looked at: {', '.join(parts) or 'nothing'}"
    if v.get("samples_error"):
        head += f"\nno sample check: {v['samples_error']}"
    samples = v.get("samples") or {}
    body = render({**v, **{k: samples.get(k) for k in ("loading", "dataset_summary", "reference",
                                                         "dataset_inferred", "skipped")}}, None)
    return f"{head}\n{body}\nwritten: {v.get('subject')}/verdict.json"
