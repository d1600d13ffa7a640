"""The verdict of a whole run: training-dynamics flags + sample flags of its last checkpoint.

    verdict = judge_run("runs/exp/variant", builder=trainers.build_generator)

reads metrics.jsonl through ``diagnose.dynamics.analyze_run``, measures the generator of the last
checkpoint through the one verdict path, ``diagnose.analysis.judge.judge_generator``, against
the dataset recorded in config.json (or the one shipped dataset that fits), with the checkpoint's
discriminator for the batch-statistics probe (when ``d_builder`` is given, D has BatchNorm and
the run fed it real and fake as separate batches), merges the flag lists into one
verdict and writes verdict.json atomically. Any part may be missing (no
metrics, no checkpoint, or ``samples=False``): the verdict says which evidence it had.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from diagnose.core.atomic import atomic_write_json
from diagnose.core.errors import UserError
from diagnose.runs import METRICS, VERDICT, read_run
from diagnose.core.verdict import merge_verdicts


def _sample_verdict(run, builder, d_builder, *, config, dataset, generator, device: str,
                    data_root, progress: bool):
    """judge_generator on the run's last checkpoint (or on ``generator``, the module a live
    Monitor holds), with its discriminator when one can be rebuilt; None when there is nothing
    to check."""
    from diagnose.analysis.judge import judge_generator
    from diagnose.generators.load import load_discriminator, load_generator, wrap_generator

    ckpt = run.last_checkpoint()
    if generator is not None:
        loaded = wrap_generator(generator, device=device, config=run.config)
        subject = f"{run.path} (generator at close)"
    elif ckpt is not None:
        loaded = load_generator(ckpt, builder=builder, device=device)
        subject = str(ckpt)
    else:
        return None
    D = load_discriminator(ckpt, loaded.config, d_builder) if ckpt is not None and d_builder else None
    return judge_generator(loaded, config, dataset=dataset, discriminator=D, device=device,
                           data_root=data_root, progress=progress, subject=subject).verdict


def judge_run(run_dir: str | Path, *, builder: Callable | None = None, samples: bool = True,
              n_samples: int | None = None, device: str = "cpu", data_root=None,
              progress: bool = False, write: bool = True, d_builder: Callable | None = None,
              dataset: str | None = None, generator=None, config=None) -> dict:
    """Combine dynamics and sample verdicts of ``run_dir``; write verdict.json when ``write``.

    config:    the sample check's protocol (default PROTOCOLS["run"]); n_samples overrides its size
    builder:   config -> G for trainers checkpoints (Monitor checkpoints rebuild G from the
               architecture they record)
    d_builder: config -> D, for the batch-statistics probe
    dataset:   the real data (default: config.json's, else the one shipped dataset that fits)
    generator: an in-memory G to judge instead of the last checkpoint's (Monitor.close)
    """
    from dataclasses import replace

    from diagnose.analysis.protocols import PROTOCOLS
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
    samp = samples_error = None
    if samples:
        cfg = config or PROTOCOLS["run"]
        if n_samples is not None:
            cfg = replace(cfg, n_samples=int(n_samples))
        try:
            samp = _sample_verdict(run, builder, d_builder, config=cfg, dataset=dataset,
                                   generator=generator, device=device, data_root=data_root,
                                   progress=progress)
        except UserError as e:      # the dynamics verdict still stands; say why samples are missing
            samples_error = str(e)
            if progress:
                print(f"note: no sample check: {e}", file=sys.stderr)
    probe = {"d_probe": samp["d_probe"]} if samp and samp.get("d_probe") else None
    evidence = {"dynamics": bool(dyn), "samples": bool(samp), "discriminator": bool(probe)}
    steps = (dyn or {}).get("dynamics", {}).get("steps")
    extra = {"evidence_used": evidence, "step": steps[1] if steps else None}
    if dyn:
        extra["dynamics"] = dyn.get("dynamics")
    if samp:
        extra["samples"] = {k: samp.get(k) for k in ("subject", "loading", "dataset", "reference",
                                                     "dataset_summary", "dataset_inferred",
                                                     "protocol", "skipped") if k in samp}
    if probe:
        extra["d_probe"] = probe["d_probe"]
    if samples_error:
        extra["samples_error"] = samples_error
    verdict = merge_verdicts(str(run_dir), dyn, samp, **extra)
    if write:
        atomic_write_json(run_dir / VERDICT, verdict)
    if progress:
        print(f"verdict {verdict['verdict']} -> {run_dir / VERDICT}", file=sys.stderr)
    return verdict
