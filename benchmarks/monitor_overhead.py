"""Overhead of diagnose.Monitor (and of its live detectors) on a real GAN training step.

A small DCGAN28-like G/D (MNIST-sized, batch 64) trains with BCE + Adam in three modes that
alternate block by block within one run, so machine load drifts hit all three alike:

    bare       no Monitor
    monitor    Monitor(detectors=False): log() every step, flush every 100, metrics.jsonl
    detectors  Monitor(detectors=True, detect_every=200): the same plus live detectors

Each mode keeps its own Monitor across blocks, so flushes and detector passes happen at their
natural frequency. Reported: median seconds per step of each mode over the blocks, the ratios
to bare, and the time spent inside the live detectors measured directly (the part of the
overhead this benchmark is about, immune to load noise). Target: <= 3 % overhead.

    .venv/bin/python benchmarks/monitor_overhead.py [--rounds 20] [--block 25] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch import nn


def make_models(nz: int = 64):
    """G: (N, nz, 1, 1) -> (N, 1, 28, 28); D: (N, 1, 28, 28) -> logit. Sizes as report 003's nets."""
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, 256, 3, 2), nn.BatchNorm2d(256), nn.ReLU(True),
        nn.ConvTranspose2d(256, 128, 4, 1), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 3, 2), nn.BatchNorm2d(64), nn.ReLU(True),
        nn.ConvTranspose2d(64, 1, 4, 2), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, 16, 3, 2), nn.BatchNorm2d(16), nn.LeakyReLU(0.2, True),
        nn.Conv2d(16, 32, 5, 2), nn.BatchNorm2d(32), nn.LeakyReLU(0.2, True),
        nn.Conv2d(32, 64, 5, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2, True),
        nn.Flatten(), nn.LazyLinear(1))
    return g, d


class Trainer:
    """One GAN training step (D step then G step), with an optional Monitor."""

    def __init__(self, monitor=None, batch: int = 64, nz: int = 64, seed: int = 0):
        torch.manual_seed(seed)
        self.g, self.d = make_models(nz)
        self.d(torch.zeros(2, 1, 28, 28))                         # materialize LazyLinear
        self.og = torch.optim.Adam(self.g.parameters(), 2e-4, betas=(0.5, 0.999))
        self.od = torch.optim.Adam(self.d.parameters(), 2e-4, betas=(0.5, 0.999))
        self.loss = nn.BCEWithLogitsLoss()
        self.real = torch.rand(batch * 8, 1, 28, 28) * 2 - 1      # stand-in data, fixed
        self.batch, self.nz, self.mon, self.step_i = batch, nz, monitor, 0

    def step(self) -> None:
        b = self.batch
        i = (self.step_i * b) % (self.real.shape[0] - b)
        x = self.real[i:i + b]
        z = torch.randn(b, self.nz, 1, 1)
        fake = self.g(z)
        out_r, out_f = self.d(x), self.d(fake.detach())
        ones, zeros = torch.ones_like(out_r), torch.zeros_like(out_f)
        d_loss = self.loss(out_r, ones) + self.loss(out_f, zeros)
        self.od.zero_grad(set_to_none=True)
        d_loss.backward()
        self.od.step()
        out_g = self.d(fake)
        g_loss = self.loss(out_g, torch.ones_like(out_g))
        self.og.zero_grad(set_to_none=True)
        g_loss.backward()
        self.og.step()
        if self.mon is not None:
            self.mon.log(self.step_i, d_loss=d_loss.detach(), g_loss=g_loss.detach(),
                         d_real=torch.sigmoid(out_r.detach()).mean(),
                         d_fake=torch.sigmoid(out_f.detach()).mean())
        self.step_i += 1


def _timed_live(mon):
    """Wrap the Monitor's LiveDetectors.update to accumulate the seconds spent inside it."""
    live = mon._live
    spent = [0.0]
    inner = live.update

    def update(rows):
        t = time.perf_counter()
        try:
            return inner(rows)
        finally:
            spent[0] += time.perf_counter() - t

    live.update = update
    return spent


def main() -> None:
    """Run the alternating benchmark and print the ratios."""
    from diagnose.monitor import Monitor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20, help="blocks per mode")
    ap.add_argument("--block", type=int, default=25, help="training steps per block")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 = steadier timings)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp(prefix="monitor_overhead_")
    mons = {"monitor": Monitor(f"{tmp}/plain", {}, quiet=True),
            "detectors": Monitor(f"{tmp}/live", {}, detectors=True, detect_every=200, quiet=True)}
    spent = _timed_live(mons["detectors"])
    trainers = {"bare": Trainer(None), "monitor": Trainer(mons["monitor"]),
                "detectors": Trainer(mons["detectors"])}
    for t in trainers.values():                                   # warm-up: allocator, kernels
        for _ in range(10):
            t.step()
    spent[0] = 0.0
    per_step: dict[str, list[float]] = {k: [] for k in trainers}
    total: dict[str, float] = {k: 0.0 for k in trainers}
    for r in range(args.rounds):
        order = list(trainers) if r % 2 == 0 else list(reversed(trainers))
        for name in order:
            t0 = time.perf_counter()
            for _ in range(args.block):
                trainers[name].step()
            dt = time.perf_counter() - t0
            per_step[name].append(dt / args.block)
            total[name] += dt
    live_runs = mons["detectors"]._live.runs
    for m in mons.values():
        m.close()
    steps = args.rounds * args.block
    med = {k: statistics.median(v) for k, v in per_step.items()}
    print(f"device cpu, torch threads {args.threads}, batch 64, {args.rounds} rounds x "
          f"{args.block} steps per mode ({steps} steps each), detect_every 200")
    for k in trainers:
        print(f"  {k:<10} median {med[k] * 1e3:8.2f} ms/step   total {total[k]:7.2f} s")
    for k in ("monitor", "detectors"):
        # paired by round: the same machine load hits both blocks of a round
        ratios = sorted(a / b for a, b in zip(per_step[k], per_step["bare"]))
        q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        print(f"  overhead {k:<10} {statistics.median(ratios) - 1:+.2%} median of per-round "
              f"ratios to bare (interquartile {q1 - 1:+.2%} .. {q3 - 1:+.2%})")
    print(f"  inside live detectors: {spent[0]:.3f} s over {steps} steps = "
          f"{spent[0] / total['detectors']:.2%} of the detectors mode's time "
          f"({live_runs} detector passes, {spent[0] / max(1, live_runs) * 1e3:.1f} ms each)")


if __name__ == "__main__":
    main()
