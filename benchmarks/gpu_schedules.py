"""Wall time of two full documented schedules through the trainers' loop (the GPU targets).

    python benchmarks/gpu_schedules.py [--device auto] [--compile] [--bf16] [--fraction 1.0]

- report 000 (`mlp_lr_imbalance/baseline`): 50 epochs of 60,000 images at batch 64 = 46,850 steps;
- report 003 (`dcgan28_hparams/c1`): 25 epochs of 60,000 images at batch 128 = 11,700 steps.

Full MNIST is not needed for timing: the embedded digits are tiled to 60,000 samples (the issue
allows synthetic 60k-size data), so the epochs have the real length. Each schedule is a real run
of :func:`trainers.train` (Monitor, snapshots and checkpoints included) into a temporary folder;
the wall time printed is the run's, from data on the device to the last checkpoint.
Target: each <= 60 s on an H100. ``--fraction 0.001`` runs a sliver of each schedule (a CPU smoke test).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile

import torch

SCHEDULES = (("000", "mlp_lr_imbalance", "baseline", 50), ("003", "dcgan28_hparams", "c1", 25))
TARGET_S = 60.0
N_IMAGES = 60_000


def tiled(ds, n: int = N_IMAGES):
    """``ds`` with its images repeated up to ``n`` samples (timing data of the right epoch length)."""
    reps = -(-n // len(ds))
    base = ds.base.repeat(reps, *([1] * (ds.base.dim() - 1)))[:n]
    labels = None if ds.labels is None else ds.labels.repeat(reps)[:n]
    return dataclasses.replace(ds, base=base, labels=labels,
                               source=f"{ds.source}, tiled to {n:,} samples (timing only)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (changes the numerics)")
    p.add_argument("--fraction", type=float, default=1.0, help="part of each schedule to run")
    p.add_argument("--only", choices=[s[0] for s in SCHEDULES], help="one schedule")
    a = p.parse_args(argv)
    from trainers import train
    from trainers.experiments import get_experiment
    from diagnose.core.device import resolve_device
    from trainers.options import LoopOptions
    from trainers.setup import load_data

    dev = resolve_device(a.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    opts = LoopOptions(compile=a.compile, bf16=a.bf16, progress=sys.stderr.isatty())
    print(f"device: {name}; compile={a.compile} bf16={a.bf16}; fraction {a.fraction:g} of each schedule")
    for report, exp, variant, epochs in SCHEDULES:
        if a.only and a.only != report:
            continue
        cfg = get_experiment(exp).variants[variant].config
        ds = tiled(load_data(cfg, None, 0))
        with tempfile.TemporaryDirectory() as tmp:
            res = train(cfg, tmp, experiment=exp, variant=variant, dataset=ds, device=str(dev),
                        epochs=epochs * a.fraction, options=opts)
        ips = res.steps * cfg.batch_size / res.seconds
        verdict = "" if a.fraction != 1.0 else (" (target <= 60 s: met)" if res.seconds <= TARGET_S
                                                 else " (target <= 60 s: missed)")
        print(f"report {report} {exp}/{variant}: {res.steps:,} steps x batch {cfg.batch_size} "
              f"in {res.seconds:.1f} s = {res.steps / res.seconds:,.0f} steps/s, {ips:,.0f} images/s{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
