"""Example run directories for the dashboard's tests, its screenshot and a first look at the app.

They are written through :class:`diagnose.monitor.Monitor` exactly like a real run, by a tiny
torch generator whose weights are shrunk towards a constant as training "progresses" (so the
fixed-latent grids visibly collapse); the scalar curves, evaluations and verdict are synthetic
and say so in config.json (``"synthetic": true``). They exercise every part of the run page
without training anything.
"""
from __future__ import annotations

import math
import random
from pathlib import Path


def _curves(step: int, total: int, collapse: bool, rng: random.Random) -> dict:
    t = step / max(total, 1)
    noise = lambda s: rng.gauss(0.0, s)  # noqa: E731
    if collapse:  # D wins: D(x) -> 1, D(G(z)) -> 0, G's gradient vanishes
        d_real = min(0.999, 0.5 + 0.49 * min(1.0, 2 * t) + noise(0.005))
        d_fake = max(0.001, 0.5 - 0.49 * min(1.0, 2 * t) + noise(0.005))
    else:  # hovering around chance with slow oscillation
        d_real = 0.62 + 0.05 * math.sin(step / 37) + noise(0.02)
        d_fake = 0.38 + 0.05 * math.sin(step / 41) + noise(0.02)
    d_loss = -math.log(max(d_real, 1e-6)) - math.log(max(1 - d_fake, 1e-6))
    g_loss = -math.log(max(d_fake, 1e-6))
    return {"d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake,
            "grad_norm_d": abs(1.0 + noise(0.2)), "grad_norm_g": abs((0.05 if collapse and t > 0.5
                                                                      else 1.0) + noise(0.1)),
            "lr_d": 2e-4, "lr_g": 2e-4, "epoch": step // 100}


def write_example_run(run_dir: str | Path, *, experiment: str = "example", variant: str = "healthy",
                      steps: int = 400, snapshot_every: int = 100, collapse: bool = False,
                      verdict: bool = True, seed: int = 0) -> Path:
    """Write one example run (metrics, snapshots, evals with histogram/projection, verdict)."""
    import torch

    from diagnose.monitor import Monitor
    from diagnose.core.verdict import Flag, make_verdict, metric_entry

    torch.manual_seed(seed)
    rng = random.Random(seed)
    gen = torch.nn.Sequential(torch.nn.Linear(16, 16 * 16), torch.nn.Tanh())
    gen.latent_shape = (16,)
    w0 = gen[0].weight.detach().clone()
    cfg = {"experiment": experiment, "variant": variant, "seed": seed, "synthetic": True,
           "dataset": {"name": "example", "size": 0, "source": "synthetic"}, "device": "cpu"}
    mon = Monitor(run_dir, cfg, latent_shape=(16,), n_fixed=16, flush_every=50, quiet=True)
    n_modes = 10
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(200, 2, generator=g) * 2.0
    for step in range(steps + 1):
        mon.log(step, **_curves(step, steps, collapse, rng))
        if collapse and step == steps * 3 // 4:  # what a live detector would have written
            mon.flush()
            mon.warn({"code": "d_overpowering", "severity": "warn", "steps": [steps // 2, step],
                      "summary": "live: D(G(z)) below 0.05 for the last quarter of the run",
                      "evidence": {"d_fake": 0.01}, "advice": []})
        if step % snapshot_every == 0:
            t = step / max(steps, 1)
            with torch.no_grad():  # collapse: the latent stops mattering, every sample the same
                gen[0].weight.copy_(w0 * (max(0.02, 1 - 1.5 * t) if collapse else 1.0))
            hit = max(1, round(n_modes * (1 - 0.8 * t))) if collapse else n_modes
            counts = [rng.randint(60, 100) if i < hit else 0 for i in range(n_modes)]
            spread = max(0.05, 1 - t) if collapse else 1.0
            gen_pts = torch.randn(200, 2, generator=g) * 2.0 * spread
            fid = (60 + 140 * t if collapse else 120 * math.exp(-3 * t) + 15) + rng.random()
            mon.snapshot(step, gen.to(torch.float32), checkpoint=False, evaluate=lambda s, _g: {
                "fid": metric_entry(round(fid, 2), "example-features", 1000, reference=12.0),
                "coverage": metric_entry(round(hit / n_modes, 3), "example-features", 1000,
                                         reference=0.95),
                "modes": metric_entry(hit, "example-features", 1000, reference=n_modes,
                                      of=n_modes),
                "mode_histogram": {"features": "example-features", "generated": counts,
                                   "reference": [80] * n_modes},
                "projection": {"method": "pca", "features": "example-features",
                               "real": real.tolist(), "generated": gen_pts.tolist()}})
    mon.close()
    if verdict:
        flags = [Flag("d_overpowering", "fail", "D(x) reached 0.99 while D(G(z)) fell to 0.01; "
                      "G's gradient vanished.", {"d_real": 0.99, "d_fake": 0.01},
                      [steps // 2, steps], ["Lower lr_d or use label smoothing."], 0.9),
                 Flag("mode_collapse", "fail", "The fixed-latent samples became one image.",
                      {"distinct": 1}, [int(steps * 0.6), steps], ["Try minibatch discrimination."])
                 ] if collapse else [Flag("oscillation", "info", "Mild periodic swings in D(x).",
                                          {"period": 37}, [steps // 4, steps // 3])]
        mon.write_verdict(make_verdict(f"{experiment}/{variant}", flags, {
            "fid": metric_entry(round(fid, 2), "example-features", 1000, reference=12.0),
            "coverage": metric_entry(round(hit / n_modes, 3), "example-features", 1000,
                                     reference=0.95),
            "modes": metric_entry(hit, "example-features", 1000, reference=n_modes, of=n_modes)}))
    return Path(run_dir)


def write_example_runs(root: str | Path, steps: int = 400) -> list[Path]:
    """Two variants of one example experiment under ``root``: one healthy, one collapsing."""
    root = Path(root)
    return [write_example_run(root / "example" / "healthy", variant="healthy", steps=steps),
            write_example_run(root / "example" / "collapse", variant="collapse", steps=steps,
                              collapse=True, seed=1)]
