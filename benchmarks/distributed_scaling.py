"""Steps/s of one variant trained by 1 process and data-parallel by N processes (gloo on the CPU,
NCCL on GPUs), through the trainers' loop (Monitor, snapshots and checkpoints included).

    python benchmarks/distributed_scaling.py [--exp mixtures --variant ring8] [--steps 200]
                                             [--nproc 2] [--device cpu] [--rounds 1]

Each configuration is a real :func:`trainers.train` of ``--steps`` steps with the variant's
documented batch (the global batch: each of N ranks takes batch / N). The rate is measured from
step 20 to the last step (so process start-up, rendezvous and data loading are not counted),
as steps per second of the whole job. One process runs twice: with 1 thread, and with the N
ranks' threads together (on a CPU other jobs already fill, its threads wait on each other).
The N-process job is started by torch.distributed's elastic launcher (what torchrun runs).
The configurations alternate in rounds, so a CPU shared with other work slows them alike.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

WARMUP = 20


def _job(exp: str, variant: str, steps: int, device: str, out: str, threads: int) -> float:
    """Train in this process (one rank of a job, or alone); return steps/s after the warm-up."""
    import torch

    from trainers.experiments import get_experiment
    from trainers.loop import train
    from trainers.options import Callback, LoopOptions

    torch.set_num_threads(threads)

    class Clock(Callback):
        t = {}

        def on_step_end(self, trainer, step, logs):
            if step in (WARMUP, steps):
                if trainer.device.type == "cuda":
                    torch.cuda.synchronize(trainer.device)
                self.t[step] = time.perf_counter()

    cfg = get_experiment(exp).variants[variant].config
    clock = Clock()
    train(cfg, out, experiment=exp, variant=variant, steps=steps, device=device, callbacks=(clock,),
          options=LoopOptions(progress=False))
    return (steps - WARMUP) / (clock.t[steps] - clock.t[WARMUP])


def _rank_entry(exp, variant, steps, device, out, threads):
    return _job(exp, variant, steps, device, out, threads)


def multi(nproc: int, exp: str, variant: str, steps: int, device: str, out: str, threads: int) -> float:
    """Steps/s of an ``nproc``-rank data-parallel job (rank 0's clock)."""
    import uuid

    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from diagnose.core.dist import _quiet_launcher_logs

    _quiet_launcher_logs()
    cfg = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                       rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0)
    res = elastic_launch(cfg, _rank_entry)(exp, variant, steps, device, out, threads)
    return float(res[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exp", default="mixtures")
    ap.add_argument("--variant", default="ring8")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args(argv)
    import torch

    from trainers.experiments import get_experiment

    cores = os.cpu_count() or 1
    per_rank = max(1, cores // a.nproc)
    batch = get_experiment(a.exp).variants[a.variant].config.batch_size
    dev = "cuda" if a.device == "cuda" else "cpu"
    name = torch.cuda.get_device_name(0) if dev == "cuda" else f"CPU, {cores} cores"
    try:
        load = "load average %.1f" % os.getloadavg()[0]
    except OSError:
        load = "load unknown"
    print(f"{a.exp}/{a.variant}: global batch {batch}, {a.steps} steps ({WARMUP} warm-up), {name}, {load}",
          file=sys.stderr)
    threads_1 = per_rank * a.nproc if dev == "cpu" else 1
    one1, oneN, many = ("1 process x 1 thread", f"1 process x {threads_1} threads",
                        f"{a.nproc} processes x {per_rank} thread(s)")
    rows = {one1: [], oneN: [], many: []} if threads_1 > 1 else {one1: [], many: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            rows[one1].append(_job(a.exp, a.variant, a.steps, dev, f"{tmp}/one{r}", 1))
            if oneN in rows:
                rows[oneN].append(_job(a.exp, a.variant, a.steps, dev, f"{tmp}/oneN{r}", threads_1))
            rows[many].append(multi(a.nproc, a.exp, a.variant, a.steps, dev, f"{tmp}/n{r}", per_rank))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rows.items()), file=sys.stderr)
    base = max(rows[one1])
    print(f"{'configuration':<30}{'steps/s (best)':>16}{'speed-up':>10}")
    for k, v in rows.items():
        print(f"{k:<30}{max(v):>16.2f}{max(v) / base:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
