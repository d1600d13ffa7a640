"""The verdict of a whole run: training-dynamics flags + sample flags of its last checkpoint.

    verdict = judge_run("runs/exp/variant", builder=trainers.build_generator)

reads metrics.jsonl through ``diagnose.dynamics.analyze_run``, measures the generator of the last
checkpoint through ``diagnose.analysis.check_generator`` against the dataset recorded in
config.json, probes the checkpoint's discriminator for batch-statistics judging
(``diagnose.analysis.dprobe``, when ``d_builder`` is given, D has BatchNorm and the run fed it
real and fake as separate batches), merges the flag
lists into one DESIGN.md verdict and writes verdict.json atomically. Any part may be missing (no
metrics, no checkpoint, or ``samples=False``): the verdict says which evidence it had.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from diagnose.atomic import atomic_write_json
from diagnose.errors import UserError
from diagnose.runs import METRICS, VERDICT, read_run
from diagnose.verdict import merge_verdicts


def _sample_verdict(run, builder, *, n_samples: int, device: str, data_root, progress: bool):
    """check_generator on the run's last checkpoint, or None when there is nothing to check."""
    from diagnose.analysis import check_generator
    from diagnose.loading import load_generator

    ckpt = run.last_checkpoint()
    ds = run.config.get("dataset") or {}
    name = ds.get("name")
    if ckpt is None or not name:
        return None
    if name not in ("mnist", "stacked-mnist", "ring8", "grid25"):
        return None                       # user images: no reference extractor without inception
    loaded = load_generator(ckpt, builder=builder, device=device)
    vr = ds.get("value_range")
    return check_generator(loaded, name, n_samples=n_samples, device=device, data_root=data_root,
                           progress=progress, value_range=tuple(vr) if vr else None,
                           subject=str(ckpt), kid_subsets=20)


def judge_run(run_dir: str | Path, *, builder: Callable | None = None, samples: bool = True,
              n_samples: int = 1000, device: str = "cpu", data_root=None,
              progress: bool = False, write: bool = True, d_builder: Callable | None = None) -> dict:
    """Combine dynamics and sample verdicts of ``run_dir``; write verdict.json when ``write``.

    n_samples: generated samples for the sample check (1,000 = the size of the embedded MNIST
    held-out split, so generated and real reference numbers are at the same n).
    d_builder: builds the discriminator from config.json, for the batch-statistics probe.
    """
    from diagnose.dynamics import analyze_run

    run_dir = Path(run_dir)
    # Config and checkpoints only: the dynamics pass below is the one parse of metrics.jsonl.
    run = read_run(run_dir, metrics=False)
    dyn = None
    metrics_file = run_dir / METRICS
    if metrics_file.is_file() and metrics_file.stat().st_size:
        try:
            dyn = analyze_run(run_dir)
        except UserError:            # no readable step in it: judge the samples alone
            dyn = None
    samp = probe = None
    if samples:
        from diagnose.analysis.dprobe import probe_checkpoint

        samp = _sample_verdict(run, builder, n_samples=n_samples, device=device,
                               data_root=data_root, progress=progress)
        ckpt = run.last_checkpoint()
        if ckpt is not None:
            probe = probe_checkpoint(ckpt, run.config, builder, d_builder, device=device,
                                     data_root=data_root)
    evidence = {"dynamics": bool(dyn), "samples": bool(samp), "discriminator": bool(probe)}
    steps = (dyn or {}).get("dynamics", {}).get("steps")
    extra = {"evidence_used": evidence, "step": steps[1] if steps else None}
    if dyn:
        extra["dynamics"] = dyn.get("dynamics")
    if samp:
        extra["samples"] = {k: samp.get(k) for k in ("subject", "loading", "dataset", "reference")
                            if k in samp}
    if probe:
        extra["d_probe"] = probe["d_probe"]
    verdict = merge_verdicts(str(run_dir), dyn, samp, probe, **extra)
    if write:
        atomic_write_json(run_dir / VERDICT, verdict)
    if progress:
        print(f"verdict {verdict['verdict']} -> {run_dir / VERDICT}", file=sys.stderr)
    return verdict
