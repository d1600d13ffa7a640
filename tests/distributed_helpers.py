"""Helpers of tests/test_distributed*.py: gloo jobs of N ranks on this machine, and what they run.

:func:`run_ranks` starts the ranks from a forkserver that imported torch once (a rank costs
milliseconds to start, not the seconds of a fresh interpreter), with the environment torchrun
gives its workers. As a script (``torchrun ... tests/distributed_helpers.py cli ROOT STEPS``) it
is ``diagnose run ... --resume`` under a real torchrun.
"""
from __future__ import annotations

import forkserver
import os
import socket
import sys
from pathlib import Path



def free_port() -> int:
    """A TCP port free on the loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ctx():
    return forkserver.context()


def _rank_main(rank: int, world: int, port: int, target, args, result: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    try:
        out = target(*args)
        torch.save(out, f"{result}.{rank}")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run_ranks(target, args: tuple, tmp: Path, world: int = 2, timeout: float = 300) -> list:
    """Run ``target(*args)`` on ``world`` ranks of one gloo job; return each rank's return value."""
    import torch

    ctx = _ctx()
    port = free_port()
    result = str(Path(tmp) / f"result_{port}")
    procs = [ctx.Process(target=_rank_main, args=(r, world, port, target, args, result)) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    for p in procs:
        if p.is_alive():
            p.kill()
    codes = [p.exitcode for p in procs]
    assert codes == [0] * world, f"ranks exited with {codes}"
    return [torch.load(f"{result}.{r}", weights_only=False) for r in range(world)]


# ----------------------------------------------------------------------------- targets
def tiny_images(n: int = 40, shape=(1, 28, 28), value_range=(-1.0, 1.0)):
    """Random uint8 images as a Dataset (the shape of MNIST, none of its cost)."""
    import torch

    from diagnose.data.base import Dataset

    g = torch.Generator().manual_seed(0)
    base = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    return Dataset(name="tiny", source="random test images", split="train", shape=shape,
                   value_range=value_range, base=base, labels=torch.zeros(n, dtype=torch.long), n_modes=1)


def train_target(out: str, exp: str, variant: str, changes: dict, opts: dict | None = None) -> int:
    """``trainers.loop.train`` of one variant (with ``changes``) on tiny images; returns its steps.
    On a rank of a job it trains data-parallel, in one process as one process does. ``opts``:
    stop_after, resume, batchnorm."""
    o = {"stop_after": None, "resume": False, "batchnorm": "sync", "seed": 3, **(opts or {})}
    stop_after, resume, batchnorm, seed = o["stop_after"], o["resume"], o["batchnorm"], o["seed"]
    from trainers.experiments import get_experiment
    from trainers.loop import train
    from trainers.options import LoopOptions

    cfg = get_experiment(exp).variants[variant].config.replace(**changes)
    ds = tiny_images(value_range=cfg.value_range or (-1.0, 1.0))
    res = train(cfg, out, experiment="t", variant="v", dataset=ds, device="cpu", seed=seed, resume=resume,
                stop_after=stop_after, options=LoopOptions(progress=False, batchnorm=batchnorm))
    return res.steps


class NaNSometimes:
    """A ring8 mixture generator that returns NaN for latents whose first entry exceeds 1.5
    (so some batches carry non-finite samples that a check must count and drop)."""

    def __new__(cls):
        import torch

        from diagnose.analysis.groundtruth import Mixture

        class _G(Mixture):
            def forward(self, z):
                y = super().forward(z)
                return torch.where((z[:, :1] > 1.5), torch.full_like(y, float("nan")), y)

        return _G("ring8")


def check_target(n: int, cache_dir: str):
    """The library check of a ring8 generator with some NaN samples; on a rank of a job the
    sampling and features are sharded (diagnose.analysis.sharded). Returns the verdict (rank 0)."""
    from diagnose.core import dist as dd
    from diagnose.analysis.cache import StageCache
    from diagnose.analysis.judge import check_generator
    from diagnose.analysis.sharded import ReplayedExtractor, ReplayedGenerator, sharded_features
    from diagnose.features import get_extractor
    from diagnose.generators.load import wrap_generator

    loaded = wrap_generator(NaNSometimes())
    extractor = None
    if dd.launched():
        dd.init("cpu")
        ext = get_extractor("identity", "cpu")
        shard = sharded_features(loaded, ext, n, batch_size=500, seed=0, keep_points=True)
        if shard is None:
            return None
        loaded = ReplayedGenerator(loaded, shard)
        extractor = ReplayedExtractor(ext, loaded)
    return check_generator(loaded, "ring8", n_samples=n, progress=False, cache=StageCache(cache_dir),
                           kid_subsets=5, extractor=extractor)


def cli_worker(root: str, steps: int, snap: int) -> int:
    """``diagnose run --exp mixtures --variants ring8 --quick --steps N --resume`` with the quick
    budget snapshotting every ``snap`` steps (batch 64), in this process (a torchrun rank)."""
    from diagnose.cli import main
    from trainers.config import QuickBudget
    from trainers.experiments import get_experiment

    get_experiment("mixtures").quick_overrides["ring8"] = QuickBudget(steps=steps, batch_size=64,
                                                                      snapshot_every=snap)
    return main(["run", "--exp", "mixtures", "--variants", "ring8", "--quick", "--steps", str(steps),
                 "--resume", "--no-progress", "--no-verdict", "--device", "cpu", "--threads", "1",
                 "--out", root])


if __name__ == "__main__":
    if sys.argv[1] == "cli":
        sys.exit(cli_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    raise SystemExit(f"unknown helper {sys.argv[1]!r}")
