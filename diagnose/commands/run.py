"""``diagnose run --exp NAME``: train an experiment's variants and print their final numbers.

Each variant goes to <out>/<experiment>/<variant>/ (a directory that already holds a run needs
--resume or --overwrite; one that another writer holds is refused). The table shows, per variant, the mean of the
last 10% of logged steps of d_loss, g_loss, d_real, d_fake, the steps done, the wall time, and
the verdict read from verdict.json when the analysis layer wrote one ("-" otherwise).
"""
from __future__ import annotations

ORDER = 20
HELP = "train a documented experiment's variants (see `diagnose experiments`)"



def add_parser(sub) -> None:
    from diagnose.commands import add_json_flag

    p = sub.add_parser("run", help=HELP, description=HELP)
    p.add_argument("--exp", required=True, metavar="NAME", help="experiment name (diagnose experiments)")
    p.add_argument("--variants", default=None, help="comma-separated variant names (default: all)")
    p.add_argument("--quick", action="store_true", help="a short budget sized for a 2-core CPU")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="override the budget in steps")
    budget.add_argument("--epochs", type=float, default=None, help="override the budget in epochs")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--data-root", default=None, help="where full datasets live (MNIST, CelebA)")
    p.add_argument("--out", default="runs", help="runs root (default runs/)")
    p.add_argument("--resume", action="store_true", help="continue each variant from its last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a variant's existing run directory (without --resume or "
                   "--overwrite, a directory that already holds a run is refused)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D (CUDA)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA, or a CPU with bf16 support; changes numerics)")
    p.add_argument("--evaluate", action="store_true",
                   help="measure each snapshot with the analysis layer (evals.jsonl); slower")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch (0 = auto: 1 when the CPU is already busy, else torch's default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-verdict", action="store_true",
                   help="skip the per-variant verdict (dynamics + a sample check of the last checkpoint)")
    from diagnose.analysis.protocols import PROTOCOLS

    n_check = PROTOCOLS["run"].n_samples
    p.add_argument("--check-samples", type=int, default=n_check, metavar="N",
                   help=f"samples drawn from each variant's last checkpoint for its verdict (default {n_check})")
    # Scale out through torchrun (trainers.distributed_run): one variant on N ranks, K variants at once.
    p.add_argument("--nproc", type=int, default=1, metavar="N", help="train each variant data-parallel on "
                   "N processes of this machine (torchrun; one per GPU with --device cuda, else CPU "
                   "processes splitting the cores); the global batch stays the documented batch")
    p.add_argument("--parallel", type=int, default=1, metavar="K", help="train K variants at once, one "
                   "process each (one per GPU with --device cuda; on a CPU the cores are split)")
    p.add_argument("--batchnorm", choices=("sync", "local"), default="sync", help="data-parallel runs: "
                   "BatchNorm statistics over the global batch as one process computes them (sync, "
                   "default) or over each rank's shard (local); recorded in config.json")
    add_json_flag(p)
    p.set_defaults(func=run)


def _evaluator(args, dataset, device: str):
    """The analysis layer's per-snapshot evaluation (``--evaluate``), or None.

    Seam: ``diagnose.analysis.snapshot_evaluator(dataset_name, ...)`` returns a callable
    ``(step, G) -> metrics dict`` that the loop passes to ``Monitor.snapshot(evaluate=...)``, which
    appends it to evals.jsonl. Off by default: on a CPU it costs a feature pass per snapshot.
    """
    if not getattr(args, "evaluate", False):
        return None
    from diagnose import analysis

    return analysis.snapshot_evaluator(dataset.name, data_root=args.data_root, device=device,
                                       value_range=dataset.value_range)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def set_threads(n: int) -> int:
    """Set torch's intra-op threads; auto (0) uses 1 thread when the 1-minute load average already
    fills the cores: on an oversubscribed CPU, OpenMP threads wait on each other and a 2-thread
    conv step measured ~10x slower than a 1-thread one on a shared 2-core machine."""
    import os

    import torch

    if n <= 0:
        cores = os.cpu_count() or 1
        try:
            busy = os.getloadavg()[0] >= cores
        except OSError:
            busy = False
        n = 1 if busy else torch.get_num_threads()
    torch.set_num_threads(n)
    return n


def summarize(run_dir) -> dict:
    """Final numbers of a run directory: means over the last 10% of logged steps, and its verdict."""
    import math

    from diagnose.runs import read_run
    from diagnose.runs.series import SIGNAL as _FIELDS

    run = read_run(run_dir)
    rows = run.metrics
    tail = rows[-max(1, len(rows) // 10):] if rows else []
    out: dict = {"steps": rows[-1]["step"] if rows else 0}
    for f in _FIELDS:
        vals = [r[f] for r in tail if isinstance(r.get(f), (int, float))]
        out[f] = sum(vals) / len(vals) if vals else math.nan
    out["verdict"] = (run.verdict or {}).get("verdict", "-") if run.verdict else "-"
    return out


def _table(rows: list[dict]) -> str:
    from diagnose.runs.series import SIGNAL as _FIELDS

    head = ["variant", *_FIELDS, "steps", "seconds", "verdict"]
    lines = [head]
    for r in rows:
        lines.append([r["variant"], *(f"{r[f]:.4f}" for f in _FIELDS), str(r["steps"]),
                      f"{r['seconds']:.1f}", r["verdict"]])
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def run(args):
    """Train the chosen variants one after the other, then print the table."""
    import sys
    from pathlib import Path

    from diagnose.commands import Result
    from diagnose.core.errors import UserError
    from trainers.experiments import get_experiment
    from trainers.loop import train
    from trainers.options import LoopOptions
    from trainers.setup import load_data

    exp = get_experiment(args.exp)
    names = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else list(exp.variants)
    variants = [exp.variant(n) for n in names]
    if args.steps is not None and args.steps < 1:
        raise UserError("--steps must be at least 1")
    if args.epochs is not None and args.epochs <= 0:
        raise UserError("--epochs must be positive")
    from trainers import distributed_run as scale

    launched = scale.start(args, [(v.name, exp.quick_budget(v.name).apply(v.config) if args.quick
                                   else v.config) for v in variants])
    if launched is not None:    # --nproc/--parallel: the ranks did the work and printed the table
        return Result(data=None, text="", exit_code=launched)
    threads = set_threads(args.threads)
    options = LoopOptions(compile=args.compile, bf16=args.bf16, progress=not args.no_progress,
                          batchnorm=args.batchnorm)
    cache: dict = {}
    rows = []
    for v in scale.my_variants(variants):
        cfg = v.config
        extra = {"description": v.description, "source": exp.source, "choices": list(v.choices),
                 "dataset_note": exp.dataset_note, "quick": None, "cpu_threads": threads}
        if args.quick:
            qb = exp.quick_budget(v.name)
            cfg = qb.apply(cfg)
            extra["quick"] = {"steps": qb.steps, "batch_size": cfg.batch_size,
                              "snapshot_every": cfg.snapshot_every, "dataset_size": qb.dataset_size,
                              "note": "--quick: shorter budget (steps, batch, composed-data size) only; "
                                      "same architecture, losses and learning rates"}
        key = (cfg.dataset, cfg.faces, cfg.resolution, cfg.dataset_size, cfg.value_range, args.data_root)
        if key not in cache:
            cache[key] = load_data(cfg, args.data_root, args.seed)
        ds = cache[key]
        run_dir = Path(args.out) / exp.name / v.name
        evaluate = _evaluator(args, ds, "cuda" if args.device == "auto" and _cuda() else
                              ("cpu" if args.device == "auto" else args.device))
        res = train(cfg, run_dir, experiment=exp.name, variant=v.name, seed=args.seed, device=args.device,
                    data_root=args.data_root, resume=args.resume, steps=args.steps, epochs=args.epochs,
                    dataset=ds, extra=extra, evaluate=evaluate, options=options,
                    overwrite=args.overwrite)
        if not scale.writes():
            continue
        print(f"{exp.name}/{v.name}: {res.steps} steps in {res.seconds:.1f} s on {res.device} -> {run_dir}",
              file=sys.stderr)
        if not args.no_verdict:
            from diagnose.analysis.run_verdict import judge_run
            from trainers import build_generator
            from trainers.build import build_discriminator

            judge_run(run_dir, builder=build_generator, d_builder=build_discriminator,
                      n_samples=args.check_samples,
                      device=res.device, data_root=args.data_root, progress=not args.no_progress)
        rows.append({"variant": v.name, "run_dir": str(run_dir), "seconds": res.seconds,
                     "device": res.device, **summarize(run_dir)})
    rows = scale.collect(rows, [v.name for v in variants])
    if rows is None:            # not rank 0: rank 0 prints the table
        return Result(data=None, text="")
    src = "benchmark" if exp.source == "benchmark" else f"report {exp.source}"
    text = (f"{exp.name} ({src}); {exp.dataset_note}\n"
            f"final numbers: mean of the last 10% of steps\n" + _table(rows) +
            f"\nruns in {Path(args.out) / exp.name} (each with verdict.json); why each verdict: "
            f"diagnose logs {Path(args.out) / exp.name / variants[0].name}\n"
            f"explore them in the dashboard: diagnose dash --runs {args.out}  (then open http://127.0.0.1:8050)")
    return Result(data={"experiment": exp.name, "source": exp.source, "variants": rows}, text=text)
