"""Monitor: the public API any training loop uses to write a run directory.

    mon = Monitor("runs/mine", config={"lr": 2e-4}, latent_shape=(100,))
    for step in ...:
        ...
        mon.log(step, d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake)
        if step % 500 == 0:
            mon.snapshot(step, G, D, optimizers={"g": opt_g, "d": opt_d})
    mon.close()

``log`` costs a dict and a list append: values may be 0-d tensors still on the GPU; they are
detached and converted together every ``flush_every`` steps (one device sync per flush, not one
per value), then appended to metrics.jsonl.
"""
from __future__ import annotations

import io
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from diagnose.core.images import image_grid_png
from diagnose.monitor.checks import check_step
from diagnose.runs import FIXED_LATENT, RunWriter

from diagnose.runs.checkpoint import make_checkpoint


def versions() -> dict:
    """Versions recorded in config.json."""
    import torchvision

    from diagnose.core.version import VERSION as __version__

    # str(): torch.__version__ is a TorchVersion object that weights_only loading refuses.
    return {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "gan-diagnose": __version__}


def scatter_png(points: torch.Tensor, centres: torch.Tensor | None = None, size: int = 320,
                extent: float | None = None) -> bytes:
    """PNG bytes of a scatter plot of 2D points (blue) over mixture centres (red)."""
    from PIL import Image, ImageDraw

    p = points.detach().float().cpu()
    p = p[torch.isfinite(p).all(1)]
    ref = centres.float().cpu() if centres is not None else p
    if extent is None:
        extent = float(ref.abs().max()) * 1.3 + 1e-6 if len(ref) else 1.0
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    to_px = lambda v: (v / extent * 0.5 + 0.5) * (size - 1)  # noqa: E731
    for x, y in p.tolist():
        px, py = to_px(x), size - 1 - to_px(y)
        if 0 <= px < size and 0 <= py < size:
            d.point((px, py), fill=(31, 119, 180))
    if centres is not None:
        for x, y in centres.tolist():
            px, py = to_px(x), size - 1 - to_px(y)
            d.ellipse((px - 3, py - 3, px + 3, py + 3), outline=(214, 39, 40))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class Monitor:
    """Logs a training run to a run directory (see diagnose.runs) at almost no cost per step.

    run_dir:       where to write (created)
    config:        anything JSON-able describing the run; written to config.json at once, with
                   versions and ``started_at`` added
    resume:        keep an existing directory: steps already logged are not written again
    overwrite:     replace the run already in ``run_dir`` (without either flag, a directory
                   holding a run is refused); one writer per directory (diagnose.runs.lock)
    latent_shape:  shape of one latent, e.g. (100,) or (64, 1, 1); read from ``config`` or the
                   generator's ``latent_shape``/``latent_dim`` attribute when not given
    n_fixed:       size of the fixed latent batch behind every sample grid
    value_range:   range of the generator's output images (for the grids)
    kind:          "image" (grid) or "points" (2D scatter, for mixtures)
    centres:       mixture centres drawn on point scatters
    flush_every:   logged steps buffered before one conversion + write
    keep_last:     keep only the newest K checkpoints (None = keep all)
    detectors:     run the training-dynamics detectors live every ``detect_every`` steps
    stop_on:       verdict codes that make ``should_stop`` true when a live detector raises them
    fixed_seed:    seed of the fixed latent batch
    dataset:       the real data the run trains on (mnist, stacked-mnist, ring8, grid25,
                   folder:PATH): recorded in config.json, and ``close()`` then writes the run's
                   verdict.json (dynamics + a sample check of the last generator; see
                   diagnose.analysis.run_verdict). Without it, ``diagnose verdict RUN_DIR`` makes one later.

    Checkpoints record the generator's (and discriminator's) class and the constructor arguments
    found on the instance, so ``diagnose check`` rebuilds them with no flag (see diagnose.generators.arch).
    """

    def __init__(self, run_dir: str | Path, config: dict | None = None, *, resume: bool = False,
                 overwrite: bool = False, lock=None,
                 latent_shape: Iterable[int] | None = None, n_fixed: int = 64,
                 value_range: tuple[float, float] = (-1.0, 1.0), kind: str = "image",
                 centres: torch.Tensor | None = None, flush_every: int = 100,
                 keep_last: int | None = None, detectors: bool = False, detect_every: int = 200,
                 stop_on: Iterable[str] = (), fixed_seed: int = 1234, quiet: bool = False,
                 dataset: str | None = None):
        self.writer = RunWriter(run_dir, resume=resume, overwrite=overwrite, lock=lock)
        self._last_step: float = self.writer.metrics.last_key
        self.dir = self.writer.dir
        self.config = dict(config or {})
        self.dataset = dataset
        if dataset:
            self.config.setdefault("dataset", {"name": str(dataset)})
        self.config.setdefault("versions", versions())
        self.config.setdefault("started_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        try:
            self.writer.write_config(self.config)
        except BaseException:       # e.g. a full disk: do not keep the directory locked
            self.writer.close()
            raise
        if latent_shape is None and "latent_shape" in self.config:
            latent_shape = self.config["latent_shape"]
        self.latent_shape = tuple(int(s) for s in latent_shape) if latent_shape is not None else None
        self.n_fixed = int(n_fixed)
        self.value_range = tuple(value_range) if value_range else None
        self.kind = kind
        self.centres = centres
        self.flush_every = max(1, int(flush_every))
        self.keep_last = keep_last
        self.fixed_seed = fixed_seed
        self.quiet = quiet
        self._buf: list[tuple[int, float, dict]] = []
        self._fixed: torch.Tensor | None = None
        self._closed = False
        self.stop_on = tuple(stop_on)
        self.should_stop = False
        self.stop_reason: str | None = None
        self._live = None
        self._arch: dict = {}            # class -> its record (see diagnose.generators.arch.record_arch)
        self._last_generator = None      # judged at close() when ``dataset`` is given
        if detectors or self.stop_on:
            from diagnose.dynamics.live import LiveDetectors

            self._live = LiveDetectors(self, every=detect_every, stop_on=self.stop_on)

    # ------------------------------------------------------------------------------ scalars
    def log(self, step: int, wall_time: float | None = None, **values: Any) -> None:
        """Record one step's scalars (floats or 0-d tensors, on any device; None = absent).

        Steps must increase: a step at or below one already logged raises StepOrderError (a
        resumed run's replay of steps already in metrics.jsonl is skipped instead).
        wall_time: when the step happened, for values logged later than their step (a
        data-parallel run averages a flush's steps across ranks first); default now.
        """
        step = check_step(step, self._last_step, self.writer.metrics.replay_until,
                          self.writer.metrics.path)
        if step > self._last_step:
            self._last_step = step
        vals = {}
        for k, v in values.items():
            if v is None:
                continue
            vals[k] = v.detach() if isinstance(v, torch.Tensor) else v
        self._buf.append((step, time.time() if wall_time is None else float(wall_time), vals))
        if len(self._buf) >= self.flush_every:
            self.flush()

    def flush(self) -> list[dict]:
        """Convert buffered values in one batch and append them to metrics.jsonl; return the rows."""
        if not self._buf:
            return []
        buf, self._buf = self._buf, []
        slots: dict[torch.device, list[tuple[int, str, torch.Tensor]]] = {}
        for i, (_, _, vals) in enumerate(buf):
            for k, v in vals.items():
                if isinstance(v, torch.Tensor):
                    t = v.float().mean() if v.numel() != 1 else v.float().reshape(())
                    slots.setdefault(t.device, []).append((i, k, t))
        rows = [{"step": s, **{k: v for k, v in vals.items() if not isinstance(v, torch.Tensor)},
                 "time": round(t, 3)} for s, t, vals in buf]
        for items in slots.values():
            host = torch.stack([t for _, _, t in items]).cpu().tolist()   # one sync per device
            for (i, k, _), val in zip(items, host):
                rows[i][k] = val
        written = [r for r in rows if self.writer.metrics.append(r)]
        if self._live is not None and written:
            self._live.update(written)
        return written

    def warn(self, flag: dict) -> None:
        """Record a live warning (stderr line + warnings.jsonl)."""
        self.writer.warnings.append(flag)
        if not self.quiet:
            steps = flag.get("steps")
            where = f" (steps {steps[0]}-{steps[1]})" if steps else ""
            print(f"[gan-diagnose] {flag.get('severity', 'warn')}: {flag.get('code')}{where}: "
                  f"{flag.get('summary', '')}", file=sys.stderr)
        if flag.get("code") in self.stop_on:
            self.should_stop = True
            self.stop_reason = flag.get("code")

    def log_eval(self, step: int, metrics: dict) -> bool:
        """Append one snapshot evaluation to evals.jsonl (every metric with its extractor)."""
        return self.writer.evals.append({"step": int(step), **metrics})

    def write_verdict(self, verdict: dict) -> None:
        """Write verdict.json."""
        self.writer.write_verdict(verdict)

    # ---------------------------------------------------------------------------- snapshots
    def fixed_latent(self, generator: torch.nn.Module | None = None) -> torch.Tensor:
        """The fixed latent batch (CPU), created once per run and kept in fixed_latent.pt."""
        if self._fixed is not None:
            return self._fixed
        path = self.dir / FIXED_LATENT
        if path.exists():
            self._fixed = _load_fixed_latent(path)
            return self._fixed
        shape = self.latent_shape
        if shape is None and generator is not None:
            shape = getattr(generator, "latent_shape", None)
            if shape is None and getattr(generator, "latent_dim", None) is not None:
                shape = (int(generator.latent_dim),)
        if shape is None:
            raise ValueError("Monitor needs latent_shape (argument, config['latent_shape'] or a "
                             "generator attribute latent_shape/latent_dim) to draw sample grids")
        self.latent_shape = tuple(shape)
        g = torch.Generator().manual_seed(self.fixed_seed)
        self._fixed = torch.randn((self.n_fixed, *self.latent_shape), generator=g)
        from diagnose.core.atomic import atomic_torch_save

        atomic_torch_save(path, self._fixed)
        return self._fixed

    @torch.no_grad()
    def sample_fixed(self, generator: torch.nn.Module) -> torch.Tensor:
        """G applied to the fixed latent batch, without changing G's state (BN buffers restored)."""
        z = self.fixed_latent(generator)
        dev = next((p.device for p in generator.parameters()), torch.device("cpu"))
        saved = {k: b.clone() for k, b in generator.named_buffers()}
        try:
            out = generator(z.to(dev))
        finally:
            for k, b in generator.named_buffers():
                b.copy_(saved[k])
        return out.float()

    def snapshot(self, step: int, generator: torch.nn.Module,
                 discriminator: torch.nn.Module | None = None, *,
                 optimizers: dict[str, torch.optim.Optimizer] | None = None,
                 state: dict | None = None, checkpoint: bool = True,
                 evaluate: Callable[[int, torch.nn.Module], dict] | None = None) -> dict:
        """Save the fixed-latent sample grid (and a checkpoint) for ``step``; return what was written.

        evaluate: optional callable (step, generator) -> metrics dict, appended to evals.jsonl.
        state:    extra entries for the checkpoint (data order, schedule position, ...).
        """
        self.flush()
        self._last_generator = generator
        out = self.sample_fixed(generator)
        if self.kind == "points":
            png = scatter_png(out.reshape(out.shape[0], -1)[:, :2], self.centres)
        else:
            if out.dim() == 2:
                side = int(round((out.shape[1]) ** 0.5))
                out = out.reshape(out.shape[0], 1, side, side)
            png = image_grid_png(out, self.value_range)
        from diagnose.core.atomic import atomic_write_bytes

        written = {"samples": str(atomic_write_bytes(self.writer.sample_path(step), png))}
        if checkpoint:
            written["checkpoint"] = str(self.save_checkpoint(step, generator, discriminator,
                                                             optimizers=optimizers, state=state))
        if evaluate is not None:
            metrics = evaluate(step, generator)
            if metrics:
                self.log_eval(step, metrics)
                written["evals"] = metrics
        return written

    def save_checkpoint(self, step: int, generator: torch.nn.Module,
                        discriminator: torch.nn.Module | None = None, *,
                        optimizers: dict[str, torch.optim.Optimizer] | None = None,
                        state: dict | None = None) -> Path:
        """Write checkpoints/step_XXXXXXX.pt in the self-describing format (weights_only loadable)."""
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        ckpt = make_checkpoint(
            config=self.config, step=step, latent_shape=self.latent_shape,
            generator=_plain_state(generator),
            discriminator=_plain_state(discriminator) if discriminator is not None else None,
            optimizers={k: o.state_dict() for k, o in (optimizers or {}).items()}, rng=rng,
            arch={"generator": self._record(generator), "discriminator": self._record(discriminator)},
            extra=state)
        path = self.writer.save_checkpoint(step, ckpt)
        if self.keep_last:
            from diagnose.runs import CHECKPOINTS, step_files

            old = step_files(self.dir / CHECKPOINTS, "pt")[: -self.keep_last]
            for _, p in old:
                p.unlink(missing_ok=True)
        return path

    def _record(self, module: torch.nn.Module | None) -> dict | None:
        """The architecture record of ``module``, computed once per class."""
        if module is None:
            return None
        key = type(getattr(module, "_orig_mod", module))
        if key not in self._arch:
            from diagnose.generators.arch import record_arch
            from diagnose.core.atomic import sanitize_json

            self._arch[key] = sanitize_json(record_arch(module))
        return self._arch[key]

    # ------------------------------------------------------------------------------- closing
    def close(self) -> None:
        """Flush what is buffered and close the files (idempotent); with ``dataset`` given, write
        the run's verdict.json first."""
        if self._closed:
            return
        self.flush()
        if self._live is not None:
            self._live.finish()
        if self.dataset:
            self._write_run_verdict()
        self.writer.close()
        self._closed = True

    def _write_run_verdict(self) -> None:
        from diagnose.core.errors import UserError
        from diagnose.analysis.run_verdict import judge_run

        try:
            gen = self._last_generator
            dev = str(next((p.device for p in gen.parameters()), "cpu")) if gen is not None else "cpu"
            v = judge_run(self.dir, dataset=str(self.dataset), generator=gen, device=dev,
                          write=False)
        except UserError as e:     # the run's files stay as written; say why there is no verdict
            print(f"[gan-diagnose] no verdict for {self.dir}: {e}", file=sys.stderr)
            return
        self.write_verdict(v)
        if not self.quiet:
            print(f"[gan-diagnose] verdict {v['verdict']} -> {self.dir / 'verdict.json'}",
                  file=sys.stderr)

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _load_fixed_latent(path: Path) -> torch.Tensor:
    """The saved fixed latent batch; UserError when the file is not one (never runs its code)."""
    from diagnose.core.errors import UserError
    from diagnose.runs.checkpoint import WeightsReadError, read_weights

    try:
        z = read_weights(path)
    except WeightsReadError as e:
        raise UserError(f"{path} is not a latent batch written by gan-diagnose ({e.cause[:120]}); "
                        "delete it and a new one is drawn") from None
    if not torch.is_tensor(z) or z.dim() < 2:
        raise UserError(f"{path} is not a latent batch written by gan-diagnose; delete it and a "
                        "new one is drawn")
    return z


def _plain_state(module: torch.nn.Module) -> dict:
    """state_dict of a module, unwrapping torch.compile's ``_orig_mod`` so keys stay loadable."""
    module = getattr(module, "_orig_mod", module)
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}
