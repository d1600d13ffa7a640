"""How the loop runs and what it gives back: LoopOptions (recorded in config.json under ``loop``),
TrainResult and the Callback hooks. What a variant trains is its TrainConfig (trainers/config.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LoopOptions:
    """How to run (not what to train); recorded in config.json under ``loop``."""

    compile: bool = False      # torch.compile G and D (CUDA: faster after warm-up; same maths)
    bf16: bool = False         # bf16 autocast (CUDA, or a CPU with avx512_bf16/AMX); off by default:
                               # it changes the numerics
    channels_last: bool = True  # on CPU, 4-d weights in NHWC order: oneDNN's fast layout, same maths
                                # up to float rounding (CUDA keeps NCHW: not measured there yet)
    progress: bool = True      # tqdm bar on stderr
    flush_every: int = 100     # Monitor: logged steps per batched conversion + write
    postfix_every: int = 50    # steps between progress-bar loss updates (each costs one sync)
    batchnorm: str = "sync"    # data-parallel runs only: "sync" = BatchNorm statistics over the global
                               # batch (what one process computes), "local" = over each rank's shard


@dataclass
class TrainResult:
    """What :func:`trainers.loop.train` returns."""

    run_dir: Path
    steps: int            # last step done in this process
    total_steps: int      # the run's budget
    seconds: float        # wall time of this call, data loading included
    device: str
    config: dict = field(default_factory=dict)


class Callback:
    """Hooks into the loop; subclass and override what you need (all default to no-ops)."""

    def on_start(self, trainer) -> None:
        """Before the first step of this process."""

    def on_step_end(self, trainer, step: int, logs: dict) -> None:
        """After each step; ``logs`` holds 0-d tensors (calling .item() here costs a sync)."""

    def on_snapshot(self, trainer, step: int) -> None:
        """After each snapshot."""

    def on_end(self, trainer, step: int) -> None:
        """After the last step of this process."""
