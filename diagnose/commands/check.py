"""``diagnose check CKPT``: sample a generator, measure it against real data, give a verdict.

The readable report puts the verdict first, then the evidence table (generated vs the real-data
reference at the same n, every value with its feature extractor), then the sample grid it saved.
"""
from __future__ import annotations

import json
import sys

ORDER = 30
HELP = "measure a generator checkpoint against real data and say whether it collapsed"
#: Most samples a check accepts (the reference and k-NN stages scale with n).
MAX_SAMPLES = 1_000_000


def add_parser(sub) -> None:
    from diagnose.cli import add_json_flag

    p = sub.add_parser("check", help=HELP, description=HELP)
    p.add_argument("checkpoint", metavar="CKPT", help="trainers checkpoint, TorchScript, exported "
                   "program (.pt2), state dict (with --arch) or pickled module (--trust-pickle)")
    p.add_argument("--arch", default=None, help="file.py:Class or package.module:Class for a state dict")
    p.add_argument("--arch-kwargs", default=None, metavar="JSON", help="constructor arguments (JSON)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size (overrides detection)")
    p.add_argument("--latent-shape", choices=("vector", "conv"), default=None,
                   help="latent as (N, z) or (N, z, 1, 1)")
    p.add_argument("--dataset", default=None, help="real data to compare with (default: the "
                   "checkpoint's config; mnist, stacked-mnist, ring8, grid25, celeba, folder:PATH)")
    p.add_argument("--data-root", default=None, help="where full datasets live (no download)")
    p.add_argument("--data-range", default=None, metavar="LO,HI", help="range the real data was "
                   "trained in, for the range check (default: the checkpoint's config)")
    p.add_argument("--n-samples", type=int, default=10_000, help="generated samples (default 10000)")
    p.add_argument("--features", default=None, help="feature extractor (default: the dataset's)")
    p.add_argument("--inception-weights", default=None, metavar="PATH",
                   help="weights file for inception-v3 features")
    p.add_argument("--trust-pickle", action="store_true", help="allow loading a pickled module "
                   "(runs code from the file)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--seed", type=int, default=0, help="latent seed")
    p.add_argument("--out", default=None, metavar="DIR", help="where to save the sample grid and "
                   "check.json (default: next to the checkpoint)")
    add_json_flag(p)
    p.set_defaults(func=run)


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        from diagnose.errors import UserError

        raise UserError("--device cuda: no CUDA device is available here")
    return name


def _data_range(text: str | None, config: dict | None):
    from diagnose.errors import UserError

    if text:
        try:
            lo, hi = (float(v) for v in text.split(","))
        except ValueError:
            raise UserError(f"--data-range: expected LO,HI such as -1,1, got {text!r}") from None
        if not hi > lo:
            raise UserError(f"--data-range: HI must exceed LO, got {text!r}")
        return (lo, hi)
    ds = (config or {}).get("dataset")
    if isinstance(ds, dict) and ds.get("value_range"):
        return tuple(float(v) for v in ds["value_range"])
    return None


def _dataset_name(arg: str | None, config: dict | None) -> str:
    from diagnose.errors import UserError

    if arg:
        return arg
    ds = (config or {}).get("dataset")
    name = ds.get("name") if isinstance(ds, dict) else ds
    if not name:
        raise UserError("no --dataset given and the checkpoint records none: pass --dataset "
                        "mnist|stacked-mnist|ring8|grid25|celeba|folder:PATH")
    return str(name)


def _known_dataset(name: str) -> str:
    """``name`` if it names a dataset; UserError otherwise (before a feature extractor is chosen
    for it, which would otherwise fail with a message about the extractor)."""
    from diagnose.data import DATASETS
    from diagnose.errors import UserError

    if name in DATASETS or name == "stacked_mnist" or name.startswith("folder:"):
        return name
    raise UserError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or folder:PATH")


def _writable_out(out) -> None:
    """Create --out, or say in one line why it cannot be written."""
    import os

    from diagnose.errors import UserError

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out} cannot be created: {e.strerror or e}") from None
    if not os.access(out, os.W_OK):
        raise UserError(f"--out {out} is not writable")


def image_grid(x, nrow: int = 8, padding: int = 2):
    """torchvision's ``make_grid(x, nrow, padding)`` (zero padding, gray made RGB) in tensor ops:
    importing torchvision costs a check seconds (it imports torch._dynamo)."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if len(x) == 1:
        return x[0]
    b, c, h, w = x.shape
    cols, rows = min(nrow, b), -(-b // min(nrow, b))
    grid = x.new_zeros((c, rows * (h + padding) + padding, cols * (w + padding) + padding))
    for k in range(b):
        y0, x0 = (k // cols) * (h + padding) + padding, (k % cols) * (w + padding) + padding
        grid[:, y0:y0 + h, x0:x0 + w] = x[k]
    return grid


def save_grid(batch, path, kind: str, centres=None) -> str:
    """Save up to 64 samples as a PNG grid (images) or a scatter (points); returns the path."""
    import numpy as np
    import torch
    from PIL import Image

    from diagnose.atomic import atomic_write

    if kind == "image":
        grid = image_grid(batch[:64].float().nan_to_num(0).clamp(0, 1), nrow=8, padding=2)
        arr = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    else:  # points: a 256x256 scatter, data centres in red
        pts = torch.as_tensor(batch).double().nan_to_num(0)
        allp = pts if centres is None else torch.cat([pts, centres.double()])
        lo, hi = allp.min(0).values, allp.max(0).values
        span = (hi - lo).clamp(min=1e-6) * 1.1
        mid = (hi + lo) / 2
        arr = np.full((256, 256, 3), 255, np.uint8)

        def put(p, colour, r):
            xy = ((p - mid) / span + 0.5) * 255
            for x, y in xy.round().long().clamp(0, 255).tolist():
                arr[max(0, 255 - y - r):256 - y + r, max(0, x - r):x + r + 1] = colour
        put(pts, (0, 0, 0), 0)
        if centres is not None:
            put(centres, (220, 0, 0), 2)
    img = Image.fromarray(arr.squeeze() if arr.shape[2] == 1 else arr)
    atomic_write(path, lambda f: img.save(f, format="PNG"))
    return str(path)


def render(v: dict, grid: str | None) -> str:
    """The readable report: verdict, flags, evidence table, grid path."""
    lines = [f"verdict: {v['verdict']} (confidence {v['confidence']:.2f})  {v['subject']}"]
    for f in v["flags"]:
        lines.append(f"  [{f['severity']}] {f['code']}: {f['summary']}")
        for a in f.get("advice", [])[:2]:
            lines.append(f"      - {a}")
    if not v["flags"]:
        lines.append("  no problem found: every metric is within the range of held-out real data")
    lines.append(f"loading: {v.get('loading')}")
    ds = v.get("dataset_summary") or {}
    lines.append(f"dataset: {ds.get('name')} ({ds.get('source')})")
    ref = v.get("reference") or {}
    lines.append("")
    lines.append(f"{'metric':<18}{'generated':>14}{'real ref':>14}  features (n gen / n ref)")
    for name, m in v.get("metrics", {}).items():
        val, r = m.get("value"), m.get("reference")
        fmt = lambda x: "n/a" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)  # noqa: E731
        of = f"/{m['of']}" if m.get("of") else ""
        lines.append(f"{name:<18}{fmt(val) + of:>14}{fmt(r) + (of if r is not None else ''):>14}  "
                     f"{m.get('features')} ({m.get('n')} / {ref.get('n')})")
    if grid:
        lines.append("")
        lines.append(f"sample grid: {grid}")
    return "\n".join(lines)


def _with_d_probe(verdict: dict, checkpoint, config, builder, device: str, data_root) -> dict:
    """``verdict`` plus the batch-statistics probe of the checkpoint's D, when the file is a
    gan-diagnose checkpoint holding one (see diagnose.analysis.dprobe)."""
    from diagnose.analysis.dprobe import probe_checkpoint
    from diagnose.verdict import merge_verdicts

    if not config or not config.get("discriminator"):
        return verdict

    def d_builder(cfg):
        from trainers.build import build_discriminator

        return build_discriminator(cfg)

    print("probing the checkpoint's discriminator (batch statistics)", file=sys.stderr)
    probe = probe_checkpoint(checkpoint, config, builder, d_builder, device=device, data_root=data_root)
    if probe is None:
        return verdict
    merged = merge_verdicts(verdict["subject"], verdict, probe)
    return {**verdict, **merged, "d_probe": probe["d_probe"]}


def run(args):
    """Load, check, save the grid and check.json, return the verdict."""
    from pathlib import Path

    from diagnose.analysis.pipeline import check_generator
    from diagnose.atomic import atomic_write_json
    from diagnose.commands import Result
    from diagnose.errors import UserError
    from diagnose.loading import load_generator

    n = args.n_samples
    if n <= 0 or n > MAX_SAMPLES:
        raise UserError(f"--n-samples must be between 1 and {MAX_SAMPLES:,}, got {n}")
    if n < 20:
        raise UserError(f"--n-samples {n} is too few to measure anything (use at least 20)")
    arch_kwargs = args.arch_kwargs
    if arch_kwargs:
        try:
            arch_kwargs = json.loads(arch_kwargs)
        except json.JSONDecodeError as e:
            raise UserError(f"--arch-kwargs is not valid JSON: {e}") from None
    device = _device(args.device)
    if args.out:
        _writable_out(Path(args.out))   # before minutes of sampling, not after
    if args.dataset:
        _known_dataset(args.dataset)

    def builder(config):
        import trainers  # only the CLI reaches trainers, and only inside the handler

        return trainers.build_generator(config)

    loaded = load_generator(args.checkpoint, arch=args.arch, arch_kwargs=arch_kwargs,
                            latent_dim=args.latent_dim, latent_shape=args.latent_shape,
                            trust_pickle=args.trust_pickle, device=device, builder=builder)
    print(f"loaded {args.checkpoint}: {loaded.describe()}", file=sys.stderr)
    dataset = _known_dataset(_dataset_name(args.dataset, loaded.config))
    ext_kw = {"inception_weights": args.inception_weights} if args.inception_weights else None
    verdict, first = check_generator(
        loaded, dataset, features=args.features, n_samples=n, data_root=args.data_root,
        seed=args.seed, device=device, progress=True,
        value_range=_data_range(args.data_range, loaded.config), subject=str(args.checkpoint),
        extractor_kwargs=ext_kw, return_samples=True)
    verdict = _with_d_probe(verdict, args.checkpoint, loaded.config, builder, device, args.data_root)
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent
    stem = Path(args.checkpoint).stem
    grid = None
    if first is not None:
        import torch

        from diagnose.analysis.reference import load_split

        centres = None
        if loaded.output.kind == "points":
            centres = load_split(dataset, "train", size=10).centres
        try:
            grid = save_grid(first if torch.is_tensor(first) else torch.as_tensor(first),
                             out / f"{stem}_check_samples.png", loaded.output.kind, centres)
            verdict["sample_grid"] = grid
            atomic_write_json(out / f"{stem}_check.json", verdict)
        except OSError as e:
            print(f"note: could not save the sample grid under {out}: {e}", file=sys.stderr)
    return Result(data=verdict, text=render(verdict, grid))
