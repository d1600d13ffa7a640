"""How many samples a generator may produce at once, from a measured one-sample probe.

Before a loaded generator is probed with a batch, :func:`plan` runs it on TWO latents (the
smallest batch a BatchNorm layer in training mode accepts) and measures the memory that call
needed at its peak: on CUDA ``torch.cuda.max_memory_allocated``; on a CPU the
process's peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs`` just before the
call). Bytes per sample = that peak + two more copies of the output (the float conversion and the
[0, 1] normalization of :meth:`LoadedGenerator.generate`). The budget is half of the memory the
system says is available (``MemAvailable``; on CUDA, 80% of the device's free memory), or
``$GAN_DIAGNOSE_MEMORY_BUDGET`` (bytes, or with a K/M/G suffix).

A generator whose single sample exceeds the budget is refused in one line; otherwise every call is
split into batches of at most ``budget // bytes_per_sample`` samples (a 4096x4096 generator is
sampled a few images at a time instead of 500 at once until memory runs out).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from diagnose.core.errors import UserError

#: Share of available host memory one sampling call may use.
HOST_SHARE = 0.5
#: Share of free device memory one sampling call may use.
DEVICE_SHARE = 0.8


@dataclass(frozen=True)
class Plan:
    """What the probe measured and the batch it allows."""

    bytes_per_sample: int
    budget: int
    max_batch: int
    measured: str          # how the peak was measured

    def describe(self) -> str:
        return (f"about {_size(self.bytes_per_sample)} per sample ({self.measured}); budget "
                f"{_size(self.budget)}: at most {self.max_batch} per batch")


def _size(n: float) -> str:
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{int(n)} B"


def parse_size(text: str) -> int:
    """'2G', '512M', '1048576' -> bytes; UserError otherwise."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        v = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise UserError(f"GAN_DIAGNOSE_MEMORY_BUDGET={text!r}: expected bytes such as 4G or 512M") from None
    if not v > 0:
        raise UserError(f"GAN_DIAGNOSE_MEMORY_BUDGET={text!r} must be positive")
    return int(v)


def _proc_kib(path: str, field: str) -> int | None:
    """Bytes of a "Field:  N kB" line of a /proc file (Linux), or None where it cannot be read."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def budget(device: torch.device) -> int:
    """Bytes one sampling call may use on ``device`` (see the module docstring)."""
    env = os.environ.get("GAN_DIAGNOSE_MEMORY_BUDGET")
    if env:
        return parse_size(env)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * DEVICE_SHARE)
    avail = _proc_kib("/proc/meminfo", "MemAvailable")
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            avail = 4 << 30
    return int(avail * HOST_SHARE)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")          # "5": reset the peak resident set size (VmHWM) to the current one
        return True
    except OSError:
        return False


def measure(run, z: torch.Tensor, device: torch.device):
    """(output of ``run(z)``, peak bytes the call needed, how it was measured)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        y = run(z)
        torch.cuda.synchronize(device)
        return y, max(0, torch.cuda.max_memory_allocated(device) - base), "CUDA peak of a 2-sample call"
    rss = _proc_kib("/proc/self/status", "VmRSS")
    if rss is not None and _reset_peak():
        y = run(z)
        peak = _proc_kib("/proc/self/status", "VmHWM")
        if peak is not None:
            return y, max(0, peak - rss), "peak resident memory of a 2-sample call"
    y = run(z)
    return y, 0, "output size only (no peak measurement on this system)"


def plan(loaded, probe_z: torch.Tensor) -> tuple[torch.Tensor, Plan]:
    """Probe ``loaded`` on the first two latents of ``probe_z`` and return (raw output of as many
    of ``probe_z``'s latents as the budget allows, the plan). UserError when one sample is too big."""
    first = probe_z[:2]
    y1, peak, how = measure(loaded._raw_unplanned, first, loaded.device)
    n_run = max(len(first), loaded.fixed_batch or 1)   # a static-batch program ran a whole batch
    per_out = y1[0].numel() * 4 if y1.dim() and len(y1) else 0
    bps = int(peak / n_run + 2 * per_out) or 1
    limit = budget(loaded.device)
    shape = "x".join(str(s) for s in y1.shape[1:])
    if bps > limit:
        raise UserError(f"the generator needs about {_size(bps)} per sample (output {shape}; "
                        f"{how}) and sampling may use {_size(limit)} here: too large to sample "
                        "(set GAN_DIAGNOSE_MEMORY_BUDGET to allow more)")
    p = Plan(bytes_per_sample=bps, budget=limit, max_batch=max(1, int(limit // bps)), measured=how)
    rest = probe_z[len(first):max(len(first), min(len(probe_z), p.max_batch))]
    y = torch.cat([y1, loaded._raw_unplanned(rest)]) if len(rest) else y1
    return y, p


def chunks(z: torch.Tensor, max_batch: int | None) -> list[torch.Tensor]:
    """``z`` split into pieces of at most ``max_batch`` latents (one piece when it fits)."""
    if not max_batch or len(z) <= max_batch:
        return [z]
    return [z[i:i + max_batch] for i in range(0, len(z), max_batch)]

