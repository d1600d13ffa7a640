"""A loaded generator: its latent prior, how its output is read, and normalized sampling.

``LoadedGenerator`` wraps any callable module (eager, TorchScript, exported program) and turns its
raw output into what every metric expects: images float (B, C, H, W) in [0, 1], or raw points
(B, D). What the output looked like and how it was read is kept in ``.output`` and said in one
line by ``.describe()``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch

from diagnose.core import memory as _memory
from diagnose.core.errors import UserError

#: Flat output sizes with a conventional image shape (others: square roots, gray then RGB).
FLAT_SHAPES = {784: (1, 28, 28), 3072: (3, 32, 32), 4096: (1, 64, 64), 12288: (3, 64, 64)}
#: A probe batch whose minimum is below this is read as [-1, 1] (tanh); otherwise [0, 1].
NEGATIVE_MIN = -0.05
#: Samples in the probe batch used to read the output format.
PROBE_N = 16
#: Point data has at most this many coordinates per sample (2D mixtures; 3D for completeness).
MAX_POINT_DIM = 3


@dataclass(frozen=True)
class OutputInfo:
    """How the generator's raw output was read.

    raw_shape:     per-sample shape the generator produced, e.g. (784,) or (1, 28, 28)
    shape:         per-sample shape after reading: (C, H, W) for images, (D,) for points
    kind:          "image" or "points"
    flat:          the output was flat (N, H*W*C) and was reshaped
    channels_last: the output was (N, H, W, C) and was permuted
    channels:      C for images, None for points
    value_range:   detected (lo, hi): (-1, 1) or (0, 1) for images, None for points
    probe_min:     smallest finite value of the probe batch (raw scale)
    probe_max:     largest finite value of the probe batch (raw scale)
    probe_nonfinite: share of NaN/inf values in the probe batch
    probe_n:       samples behind probe_min/probe_max
    """

    raw_shape: tuple
    shape: tuple
    kind: str
    flat: bool
    channels_last: bool
    channels: int | None
    value_range: tuple | None
    probe_min: float
    probe_max: float
    probe_nonfinite: float
    probe_n: int = PROBE_N

    def describe(self) -> str:
        """e.g. "output (N, 784) read as 1x28x28, range [0, 1] (scale of values measured in
        [0.01, 0.97] over 16 samples)": the scale it was read on, and what it measured."""
        raw = "(N, " + ", ".join(str(s) for s in self.raw_shape) + ")"
        if self.kind == "points":
            return f"output {raw} read as {self.shape[0]}D points"
        read = " read as " + "x".join(str(s) for s in self.shape) if (self.flat or self.channels_last
                                                                       or len(self.raw_shape) == 2) else ""
        lo, hi = self.value_range
        return (f"output {raw}{read}, range [{lo:g}, {hi:g}] (scale of values measured in "
                f"[{self.probe_min:.3g}, {self.probe_max:.3g}] over {self.probe_n:,} samples)")


def read_output(y: torch.Tensor) -> OutputInfo:
    """Work out the format of a raw probe batch ``y`` (N, ...); UserError when it is no image/points."""
    if not torch.is_tensor(y):
        raise UserError(f"the generator returned {type(y).__name__}, not a tensor")
    if y.dim() < 2:
        raise UserError(f"the generator returned shape {tuple(y.shape)}: expected a batch (N, ...)")
    raw = tuple(int(s) for s in y.shape[1:])
    per = math.prod(raw)
    if per == 1:
        raise UserError(f"the model outputs one number per sample (shape {tuple(y.shape)}): this "
                        "looks like a discriminator, not a generator")
    flat, last = False, False
    if y.dim() == 2 and per <= MAX_POINT_DIM:
        shape, kind = raw, "points"
    elif y.dim() == 2:
        shape, flat = _flat_image_shape(per), True
        kind = "image"
    elif y.dim() == 3:
        shape, kind = (1, *raw), "image"
    elif y.dim() == 4:
        kind = "image"
        if raw[0] in (1, 3):
            shape = raw
        elif raw[2] in (1, 3) and raw[0] == raw[1]:
            shape, last = (raw[2], raw[0], raw[1]), True
        else:
            raise UserError(f"generator output (N, {', '.join(map(str, raw))}) has {raw[0]} "
                            "channels: expected 1 (gray) or 3 (RGB) images")
    else:
        raise UserError(f"generator output shape {tuple(y.shape)} is neither images nor points")
    finite = y[torch.isfinite(y)].float()
    lo = float(finite.min()) if finite.numel() else float("nan")
    hi = float(finite.max()) if finite.numel() else float("nan")
    nonfinite = 1.0 - finite.numel() / max(1, y.numel())
    rng = None
    if kind == "image":
        rng = (-1.0, 1.0) if (finite.numel() and lo < NEGATIVE_MIN) else (0.0, 1.0)
    return OutputInfo(raw_shape=raw, shape=tuple(shape), kind=kind, flat=flat, channels_last=last,
                      channels=shape[0] if kind == "image" else None, value_range=rng,
                      probe_min=lo, probe_max=hi, probe_nonfinite=nonfinite)


def _flat_image_shape(d: int) -> tuple[int, int, int]:
    """(C, H, W) for a flat output of size d: known sizes, else a gray or RGB square."""
    if d in FLAT_SHAPES:
        return FLAT_SHAPES[d]
    for c in (1, 3):
        if d % c == 0:
            s = math.isqrt(d // c)
            if s * s * c == d:
                return (c, s, s)
    raise UserError(f"generator output (N, {d}) cannot be read as an image: {d} is not H*W "
                    "or 3*H*W for a square image")


class LoadedGenerator:
    """A generator ready to sample: latent prior, output reading, normalized batches.

    The wrapped module is never put into another mode and its buffers (BatchNorm running stats)
    are restored after every call, so sampling does not change it (the same rule as
    Monitor.sample_fixed).
    """

    def __init__(self, module, latent_shape: tuple, *, form: str, config: dict | None = None,
                 device: str | torch.device = "cpu", latent_source: str = "",
                 fixed_batch: int | None = None, path: str | None = None):
        self.module = module
        self.latent_shape = tuple(int(s) for s in latent_shape)
        self.form = form
        self.config = config
        self.device = torch.device(device)
        self.latent_source = latent_source
        self.fixed_batch = fixed_batch  # exported programs traced with a static batch size
        self.path = path
        self.has_latent = True          # a SampleSet (files of samples) has none
        self.memory = None      # diagnose.core.memory.Plan: a measured small probe sizes every batch
        probe, self.memory = _memory.plan(self, self.latents(PROBE_N, seed=12345))
        self.output: OutputInfo = read_output(probe)

    # ------------------------------------------------------------------ description
    def describe(self) -> str:
        """One line: how the output was read, and the latent."""
        lat = "(N, " + ", ".join(map(str, self.latent_shape)) + ")"
        src = f" from {self.latent_source}" if self.latent_source else ""
        return f"{self.output.describe()}; latent {lat}{src}"

    def info(self) -> dict:
        """JSON-able facts for reports and config records."""
        o = self.output
        return {"form": self.form, "path": self.path, "latent_shape": list(self.latent_shape),
                "latent_source": self.latent_source, "kind": o.kind, "raw_shape": list(o.raw_shape),
                "shape": list(o.shape), "flat": o.flat, "channels": o.channels,
                "value_range": list(o.value_range) if o.value_range else None,
                "probe_min": o.probe_min, "probe_max": o.probe_max,
                "probe_nonfinite": o.probe_nonfinite, "description": self.describe()}

    # ------------------------------------------------------------------ sampling
    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` standard-normal latents (CPU), the same for the same seed."""
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn((int(n), *self.latent_shape), generator=g)

    def _call(self, z: torch.Tensor) -> torch.Tensor:
        from diagnose.core.guard import user_code

        try:
            with user_code(f"the generator ({self.form})"):   # time limit, Ctrl+C (diagnose.core.guard)
                return self.module(z)
        except UserError:
            raise
        except Exception as e:  # the user's code failed: say so on one line, with a hint
            msg = " ".join(str(e).split())[:300]
            raise UserError(f"the generator raised {type(e).__name__} on latents of shape "
                            f"{tuple(z.shape)} ({self.latent_source or 'latent shape'}): {msg}; "
                            "if the latent is wrong pass --latent-dim N / --latent-shape") from None

    def _raw(self, z: torch.Tensor) -> torch.Tensor:
        """The generator's raw output for ``z``, in calls no larger than the memory plan allows."""
        parts = _memory.chunks(z, self.memory.max_batch if self.memory else None)
        if len(parts) == 1:
            return self._raw_unplanned(z)
        return torch.cat([self._raw_unplanned(c) for c in parts])

    @torch.no_grad()
    def _raw_unplanned(self, z: torch.Tensor) -> torch.Tensor:
        """The generator's raw output for ``z`` in one call, buffers restored afterwards."""
        z = z.to(self.device)
        saved = _save_buffers(self.module)
        try:
            if self.fixed_batch:
                outs = []
                b = self.fixed_batch
                for i in range(0, z.shape[0], b):
                    chunk = z[i:i + b]
                    k = chunk.shape[0]
                    if k < b:  # pad the last chunk to the traced batch size
                        chunk = torch.cat([chunk, chunk[-1:].expand(b - k, *chunk.shape[1:])])
                    outs.append(_first_tensor(self._call(chunk))[:k])
                y = torch.cat(outs)
            else:
                y = _first_tensor(self._call(z))
        finally:
            _restore_buffers(self.module, saved)
        return y.detach()

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Normalized output for latents ``z``: images (B, C, H, W) float in [0, 1], or points (B, D).

        NaN/inf are passed through (the verdict layer calls that ``diverged``).
        """
        y = self._raw(z).float()
        if y.dim() == 0 or y.shape[0] != z.shape[0]:   # one sample per latent, or nothing fits
            raise UserError(f"the generator returned {y.shape[0] if y.dim() else 'no'} samples for "
                            f"a batch of {z.shape[0]} latents: it must return one sample per latent")
        return normalize(y, self.output)

    def sample(self, n: int, batch_size: int = 500, seed: int = 0) -> Iterator[torch.Tensor]:
        """Yield normalized batches for ``n`` latents drawn with ``seed`` (no gradients)."""
        z = self.latents(n, seed)
        if self.memory is not None:    # never more samples at once than memory allows
            batch_size = max(1, min(int(batch_size), self.memory.max_batch))
        for i in range(0, int(n), int(batch_size)):
            yield self.generate(z[i:i + batch_size])

    def __repr__(self) -> str:
        return f"<LoadedGenerator {self.form}: {self.describe()}>"


def normalize(y: torch.Tensor, o: OutputInfo) -> torch.Tensor:
    """Raw samples ``y`` read as ``o`` says: images (B, C, H, W) float in [0, 1], or points (B, D)."""
    if o.kind == "points":
        return y.reshape(y.shape[0], -1)
    if y.dim() == 2 and y.shape[1] != math.prod(o.shape):
        raise UserError(f"generator output changed shape: {tuple(y.shape)}")
    if o.flat:
        y = y.reshape(y.shape[0], *o.shape)
    elif o.channels_last:
        y = y.permute(0, 3, 1, 2)
    elif y.dim() == 3:
        y = y.unsqueeze(1)
    lo, hi = o.value_range
    if (lo, hi) != (0.0, 1.0):
        y = (y - lo) / (hi - lo)
    return y.clamp(0.0, 1.0).contiguous()  # clamp keeps NaN, so divergence stays visible


def _first_tensor(y):
    """Generators that return (images, extras) tuples: take the first tensor."""
    if isinstance(y, (tuple, list)) and y and torch.is_tensor(y[0]):
        return y[0]
    if isinstance(y, dict):
        for v in y.values():
            if torch.is_tensor(v):
                return v
    return y


def _save_buffers(module) -> dict:
    try:
        return {k: b.clone() for k, b in module.named_buffers()}
    except Exception:  # some wrapped programs expose no buffers
        return {}


def _restore_buffers(module, saved: dict) -> None:
    if not saved:
        return
    for k, b in module.named_buffers():
        if k in saved:
            b.copy_(saved[k])
