"""Work the dashboard does on request: evaluating snapshots, real-data grids, thumbnails.

* ``EvalJobs``: the run page's "Evaluate snapshots" button. ``diagnose run`` evaluates snapshots
  only with ``--evaluate`` (a feature pass per snapshot is minutes on a CPU), so a run page would
  otherwise show empty evaluation, mode and projection panels. One background thread per server
  loads each checkpoint that has no evaluation yet, measures it with the analysis layer's
  snapshot evaluator (the same one ``--evaluate`` uses) and appends the row to the run's
  evals.jsonl: the button is the user asking for that write. A run still being written is refused,
  so the dashboard never writes into a run a trainer holds.
* ``real_grid_png``: a grid of real training images (the run's dataset, as config.json records it),
  shown beside the fixed-latent grids. Built in memory and cached; nothing is written.
* ``thumbnail_png``: a sample grid scaled down for the film strip (in memory, cached).
"""
from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from pathlib import Path

from diagnose import runs as R
from diagnose.core.errors import UserError

#: Generated samples per evaluated snapshot: the verdict's sample check uses 1,000, so the real-data
#: reference (the slow part) is already in the analysis cache after ``diagnose run``.
EVAL_SAMPLES = 1000
_MAX_CACHE = 64


class EvalJobs:
    """Background evaluation of a run's snapshots, one run at a time per server; thread-safe."""

    def __init__(self, n_samples: int = EVAL_SAMPLES, device: str = "cpu"):
        self.n_samples = int(n_samples)
        self.device = device
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._busy = False

    def status(self, run_id: str) -> dict | None:
        """The job of ``run_id``: state (running/done/error), done, total, step, message, seconds."""
        with self._lock:
            job = self._jobs.get(run_id)
            return dict(job) if job else None

    @staticmethod
    def pending(run: R.Run) -> list[tuple[int, Path]]:
        """Checkpoints after the last evaluated step (evals.jsonl is append-only, keyed by step)."""
        done = [r.get("step") for r in run.evals if isinstance(r.get("step"), (int, float))
                and not isinstance(r.get("step"), bool)]
        last = max(done) if done else -1
        return [(s, p) for s, p in run.checkpoints if s > last]

    def start(self, run_id: str, path: Path, run: R.Run, live: bool) -> dict:
        """Start evaluating ``run``'s pending checkpoints; the job dict, or UserError saying why not."""
        todo = self.pending(run)
        if live:
            raise UserError("this run is still being written; evaluate it once training stops")
        if not todo:
            raise UserError("every checkpoint of this run is evaluated already" if run.checkpoints
                            else "this run saved no checkpoints, so there is nothing to evaluate")
        ds = run.config.get("dataset")
        name = ds.get("name") if isinstance(ds, dict) else ds
        if not isinstance(name, str) or not name:
            raise UserError("config.json does not say which dataset this run trained on")
        with self._lock:
            if self._busy:
                raise UserError("another evaluation is running; try again when it finishes")
            self._busy = True
            job = {"state": "running", "done": 0, "total": len(todo), "step": None,
                   "message": "loading the real-data reference", "started": time.time()}
            self._jobs[run_id] = job
        threading.Thread(target=self._work, args=(run_id, path, run, name, todo), daemon=True,
                         name="dash-evaluate").start()
        return dict(job)

    def _set(self, run_id: str, **kw) -> None:
        with self._lock:
            self._jobs[run_id].update(kw)

    def _work(self, run_id: str, path: Path, run: R.Run, dataset: str, todo) -> None:
        try:
            import torch

            from diagnose.analysis import snapshot_evaluator
            from diagnose.generators.load import load_generator

            vr = run.config.get("value_range") or (run.config.get("dataset") or {}).get("value_range")
            evaluate = snapshot_evaluator(dataset, n_samples=self.n_samples, device=self.device,
                                          data_root=run.config.get("data_root"),
                                          value_range=tuple(vr) if isinstance(vr, list) else None)
            out = R.JsonlAppender(path / R.EVALS)
            try:
                for i, (step, ckpt) in enumerate(todo):
                    self._set(run_id, step=step, message=f"measuring step {step:,} "
                                                         f"({i + 1} of {len(todo)})")
                    loaded = load_generator(ckpt, device=self.device)
                    with torch.no_grad():
                        row = evaluate(step, loaded.module)
                    out.append({"step": step, **row})
                    self._set(run_id, done=i + 1)
            finally:
                out.close()
            self._set(run_id, state="done", message=f"evaluated {len(todo)} snapshot(s)",
                      seconds=time.time() - self._jobs[run_id]["started"])
        except Exception as e:  # any failure is shown on the page, in one line
            msg = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {str(e)[:300]}"
            self._set(run_id, state="error", message=f"evaluation failed: {msg}")
        finally:
            with self._lock:
                self._busy = False


class _LRU:
    def __init__(self, n: int = _MAX_CACHE):
        self.n = n
        self.d: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, make):
        """The cached value of ``key``, made once; a UserError from ``make`` is cached too."""
        with self.lock:
            if key in self.d:
                self.d.move_to_end(key)
                val = self.d[key]
                if isinstance(val, UserError):
                    raise val
                return val
        try:
            val = make()
        except UserError as e:
            val = e
        with self.lock:
            self.d[key] = val
            while len(self.d) > self.n:
                self.d.popitem(last=False)
        if isinstance(val, UserError):
            raise val
        return val


_THUMBS = _LRU()
_REAL = _LRU(8)


def thumbnail_png(path: Path, width: int) -> bytes:
    """``path`` (a PNG grid) scaled to ``width`` pixels wide, cached by (path, mtime, width)."""
    from PIL import Image

    st = path.stat()

    def make():
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.width > width:
                im = im.resize((width, max(1, round(im.height * width / im.width))),
                               Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            im.save(buf, format="PNG", optimize=True)
            return buf.getvalue()

    return _THUMBS.get((str(path), st.st_mtime_ns, int(width)), make)


def real_grid_png(config: dict, n: int = 64) -> bytes:
    """A grid of ``n`` real training images of the run's dataset (same layout as the sample grids).

    UserError when config.json does not name a loadable image dataset (point data, user data).
    """
    ds = config.get("dataset") if isinstance(config, dict) else None
    name = ds.get("name") if isinstance(ds, dict) else ds
    if not isinstance(name, str) or not name:
        raise UserError("config.json does not name the dataset")
    shape = ds.get("shape") if isinstance(ds, dict) else None
    res = shape[-1] if isinstance(shape, list) and len(shape) == 3 and isinstance(shape[-1], int) \
        else None
    vr = config.get("value_range") or (ds.get("value_range") if isinstance(ds, dict) else None)
    vr = tuple(vr) if isinstance(vr, list) and len(vr) == 2 else (-1.0, 1.0)
    size = ds.get("size") if isinstance(ds, dict) and isinstance(ds.get("size"), int) else None
    key = (name, res, vr, size, config.get("data_root"), n)

    def make():
        import torch

        from diagnose.data import load_dataset
        from diagnose.core.images import image_grid_png

        try:
            data = load_dataset(name, data_root=config.get("data_root"), resolution=res,
                                value_range=vr, size=size, seed=int(config.get("seed") or 0)
                                if isinstance(config.get("seed"), int) else 0)
        except UserError:
            raise
        except Exception as e:
            raise UserError(f"cannot load dataset {name!r}: {type(e).__name__}: {str(e)[:200]}") \
                from None
        if data.kind != "image":
            raise UserError(f"{name} is point data: its real samples are in the scatter plots")
        g = torch.Generator().manual_seed(0)
        idx = torch.randperm(len(data), generator=g)[:n]
        return image_grid_png(data.get(idx), data.value_range)

    return _REAL.get(key, make)


def message_png(text: str, width: int = 380, height: int = 120) -> bytes:
    """A small grey PNG with ``text`` on it (stands in for an image that cannot be built)."""
    import textwrap

    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), (245, 247, 250))
    ImageDraw.Draw(im).multiline_text((10, 10), "\n".join(textwrap.wrap(text, 58)[:6]),
                                      fill=(97, 110, 124))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()
