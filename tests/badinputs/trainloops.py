"""Training loops that the kill/resume tests cut off with SIGKILL (imported by a forkserver).

Kept free of pytest and test-only imports so a forked trial starts in milliseconds.
"""
from __future__ import annotations


def tiny_monitor_train(run_dir: str, steps: int, seed: int = 0, snap_every: int = 6) -> None:
    """A 2D GAN small enough to run hundreds of steps a second, written the way a user would:
    Monitor for logging/snapshots, resume from the newest checkpoint. The batch of each step is
    drawn from a generator seeded by (seed, step), so a resumed run repeats an uninterrupted one."""
    import torch

    from diagnose.monitor import Monitor
    from diagnose.runs import read_run

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    G = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    D = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
    bce = torch.nn.BCEWithLogitsLoss()
    mon = Monitor(run_dir, {"seed": seed, "steps": steps}, resume=True, latent_shape=(4,),
                  kind="points", flush_every=4, n_fixed=16, quiet=True)
    start = 0
    last = read_run(run_dir).last_checkpoint()
    if last is not None:
        ck = torch.load(last, weights_only=True)
        G.load_state_dict(ck["generator"])
        D.load_state_dict(ck["discriminator"])
        opt_g.load_state_dict(ck["optimizers"]["g"])
        opt_d.load_state_dict(ck["optimizers"]["d"])
        start = int(ck["step"])
    for step in range(start + 1, steps + 1):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        z = torch.randn(32, 4, generator=g)
        real = torch.randn(32, 2, generator=g) * 0.1 + 1.0
        fake = G(z)
        d_loss = bce(D(real), torch.ones(32, 1)) + bce(D(fake.detach()), torch.zeros(32, 1))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = bce(D(fake), torch.ones(32, 1))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        mon.log(step, d_loss=d_loss, g_loss=g_loss)
        if step % snap_every == 0 or step == steps:
            mon.snapshot(step, G, D, optimizers={"g": opt_g, "d": opt_d})
            mon.write_verdict({"subject": run_dir, "verdict": "healthy", "confidence": 0.5,
                               "flags": [], "metrics": {}, "step": step})
    mon.close()


RUN_STEPS = 120
RUN_SNAP = 15


def cli_train(root: str, steps: int = RUN_STEPS) -> None:
    """``diagnose run --exp mixtures --variants ring8 --quick --steps N --resume`` in this process,
    with the quick budget of ring8 snapshotting every RUN_SNAP steps (its normal interval, 500,
    would leave nothing to resume from in a short test)."""
    import sys

    from diagnose.cli import main
    from trainers.config import QuickBudget
    from trainers.experiments import get_experiment

    exp = get_experiment("mixtures")
    exp.quick_overrides["ring8"] = QuickBudget(steps=steps, batch_size=64, snapshot_every=RUN_SNAP)
    code = main(["run", "--exp", "mixtures", "--variants", "ring8", "--quick", "--steps", str(steps),
                 "--resume", "--no-progress", "--device", "cpu", "--threads", "1", "--out", root])
    sys.exit(code)




def noop() -> None:
    """Starts the forkserver (its imports) so timings of later trials measure training only."""
