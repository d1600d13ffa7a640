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


FAIL_ON_HELP = ("exit with code 1 when the verdict matches: a comma-separated list of verdict "
                "codes (e.g. mode_collapse,diverged: any warn/fail flag with one of them), 'fail' "
                "(any fail flag) or 'warn' (any warn or fail flag); code 2 stays bad input")


def add_parser(sub) -> None:
    from diagnose.analysis.protocols import PROTOCOLS
    from diagnose.commands import add_json_flag

    defaults = PROTOCOLS["check"]
    p = sub.add_parser("check", help=HELP, description=HELP + ". Several inputs are judged against "
                       "one reference and printed as one comparison table.")
    p.add_argument("checkpoint", metavar="INPUT", nargs="+", help="a generator file (gan-diagnose "
                   "or Monitor checkpoint, TorchScript, exported program .pt2, state dict with "
                   "--arch, pickled module with --trust-pickle), a run directory (its last "
                   "checkpoint), or samples: a folder of images (PNG/JPEG, any size) or an "
                   ".npz/.npy array")
    p.add_argument("--arch", default=None, help="file.py:Class or package.module:Class that builds "
                   "the generator for a state dict (always used when given). This IMPORTS and so "
                   "runs FILE's code (not its `if __name__ == \"__main__\":` block); a script that "
                   "parses arguments or trains when imported is refused. For a whole pickled "
                   "model (--trust-pickle) whose class the training script defined, FILE is that "
                   "script and only its definitions run")
    p.add_argument("--arch-kwargs", default=None, metavar="JSON", help="constructor arguments (JSON)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size (overrides detection)")
    p.add_argument("--latent-shape", choices=("vector", "conv"), default=None,
                   help="latent as (N, z) or (N, z, 1, 1)")
    p.add_argument("--dataset", "--real", dest="dataset", default=None, metavar="NAME",
                   help="real data to compare with: mnist, stacked-mnist, ring8, grid25, celeba, "
                   "folder:PATH (default: the one the checkpoint records, else the one shipped "
                   "dataset that fits the output's shape, channels and range)")
    p.add_argument("--data-root", default=None, help="where full datasets live (no download)")
    p.add_argument("--data-range", default=None, metavar="LO,HI", help="range the real data was "
                   "trained in, for the range check (default: the checkpoint's config)")
    p.add_argument("--n-samples", type=int, default=defaults.n_samples,
                   help=f"generated samples (default {defaults.n_samples}; samples given as files: "
                   "at most this many)")
    p.add_argument("--features", default=defaults.features,
                   help="feature extractor (default: the dataset's)")
    p.add_argument("--inception-weights", default=None, metavar="PATH",
                   help="weights file for inception-v3 features")
    p.add_argument("--trust-code", "--trust-pickle", dest="trust_pickle", action="store_true",
                   help="trust a code-bearing file: unpickle a whole pickled module, and run a "
                   "TorchScript/exported program's operators that are not tensor maths (file, "
                   "process, network). Without it a pickle never runs code and a model file runs "
                   "tensor maths only. --trust-pickle is the same flag")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="seconds one generator call (a batch) may take before it is stopped "
                   "(default 600, or $GAN_DIAGNOSE_TIME_LIMIT)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--seed", type=int, default=defaults.seed, help="latent seed")
    p.add_argument("--out", default=OUT_DEFAULT, metavar="DIR", help="where to save each input's "
                   f"sample grid and <name>_check.json (default: ./{OUT_DEFAULT}/; never beside "
                   "the input unless you name its folder)")
    p.add_argument("--fail-on", default=None, metavar="CODES|fail|warn", help=FAIL_ON_HELP)
    _add_scale_flags(p)   # --nproc: sampling + features sharded over torchrun ranks
    add_json_flag(p)
    p.set_defaults(func=run)


#: Default folder of check results, in the current directory.
OUT_DEFAULT = "diagnose_checks"


def _device(name: str) -> str:
    from diagnose.core.device import resolve_device

    return str(resolve_device(name))


def _data_range(text: str | None, config: dict | None):
    from diagnose.core.errors import UserError

    if text:
        try:
            lo, hi = (float(v) for v in text.split(","))
        except ValueError:
            raise UserError(f"--data-range: expected LO,HI such as -1,1, got {text!r}") from None
        if not hi > lo:
            raise UserError(f"--data-range: HI must exceed LO, got {text!r}")
        return (lo, hi)
    from diagnose.runs.checkpoint import ConfigView

    return ConfigView(config).value_range


def parse_fail_on(text: str | None):
    """--fail-on as a predicate on a verdict dict (None when not given); UserError when unknown."""
    from diagnose.core.errors import UserError
    from diagnose.core.verdict import CODES

    if not text:
        return None
    words = [w.strip() for w in text.split(",") if w.strip()]
    if words == ["fail"]:
        return lambda v: any(f["severity"] == "fail" for f in v.get("flags", []))
    if words == ["warn"]:
        return lambda v: any(f["severity"] in ("warn", "fail") for f in v.get("flags", []))
    bad = [w for w in words if w not in CODES or w == "healthy"]
    if bad or not words:
        raise UserError(f"--fail-on {text!r}: expected verdict codes ({', '.join(c for c in CODES if c != 'healthy')}), "
                        "'fail' or 'warn'")
    want = set(words)
    return lambda v: v.get("verdict") in want or any(
        f["code"] in want and f["severity"] in ("warn", "fail") for f in v.get("flags", []))


def _writable_out(out) -> None:
    """Say in one line why --out could not be written, before minutes of sampling; the folder
    itself is created only when the first result is written (a failed check leaves nothing)."""
    import os

    from diagnose.core.errors import UserError

    p = out
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    if p.exists() and not p.is_dir():
        raise UserError(f"--out {out} cannot be created: {p} is a file")
    if not os.access(p, os.W_OK | os.X_OK):
        raise UserError(f"--out {out} is not writable ({p} is read-only for you)")


def save_grid(batch, path, kind: str, centres=None) -> str:
    """Save up to 64 samples as a PNG grid (images) or a scatter (points); returns the path."""
    import numpy as np
    import torch
    from PIL import Image

    from diagnose.core.atomic import atomic_write

    if kind == "image":
        from diagnose.core.images import grid_array

        arr = grid_array(batch[:64], nrow=8, padding=2)
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
    img = Image.fromarray(arr)
    atomic_write(path, lambda f: img.save(f, format="PNG"))
    return str(path)


def render(v: dict, grid: str | None) -> str:
    """The readable report: verdict, flags, evidence table, grid path."""
    lines = [f"verdict: {v['verdict']} (confidence {v['confidence']:.2f})  {v['subject']}"]
    if v.get("headline"):
        lines.append(f"  {v['headline']}")
    for f in v["flags"]:
        lines.append(f"  [{f['severity']}] {f['code']}: {f['summary']}")
        for a in f.get("advice", [])[:2]:
            lines.append(f"      - {a}")
    if not v["flags"]:
        lines.append("  no problem found: every metric is within the range of held-out real data")
    lines.append(f"loading: {v.get('loading')}")
    ds = v.get("dataset_summary") or {}
    lines.append(f"dataset: {ds.get('name')} ({ds.get('source')})"
                 + (f"; inferred: {v['dataset_inferred']}" if v.get("dataset_inferred") else ""))
    for s in v.get("skipped") or []:
        lines.append(f"skipped: {s}")
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


def compare_table(rows: list[dict]) -> str:
    """Several inputs against one reference: one line each, the reference's line last."""
    keys = ("fid", "precision", "recall", "coverage", "modes", "duplicate_rate")
    present = [k for k in keys if any(k in r.get("metrics", {}) for r in rows)]
    w = max([len(_short(r["subject"])) for r in rows] + [5])
    head = f"{'input':<{w}}  {'verdict':<18}" + "".join(f"{k:>14}" for k in present) + "  flags"
    lines = [head]

    def fmt(x):
        return "n/a" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)
    for r in rows:
        m = r.get("metrics", {})
        flags = ", ".join(f["code"] for f in r["flags"] if f["severity"] != "info") or "-"
        lines.append(f"{_short(r['subject']):<{w}}  {r['verdict']:<18}"
                     + "".join(f"{fmt(m.get(k, {}).get('value')):>14}" for k in present) + f"  {flags}")
    ref = rows[0].get("metrics", {})
    lines.append(f"{'real data':<{w}}  {'(reference)':<18}"
                 + "".join(f"{fmt(ref.get(k, {}).get('reference')):>14}" for k in present))
    ds = rows[0].get("dataset_summary") or {}
    feats = next((v.get("features") for v in ref.values() if isinstance(v, dict)), None)
    lines.append(f"reference: {ds.get('name')} ({ds.get('source')}), {feats} features")
    return "\n".join(lines)


def _short(subject: str, width: int = 48) -> str:
    return subject if len(subject) <= width else "..." + subject[-(width - 3):]


def _resolve_input(text: str):
    """(path to load, note): a run directory means its last checkpoint."""
    from pathlib import Path

    from diagnose.core.errors import UserError
    from diagnose.generators.sample_sets import is_sample_path

    p = Path(text)
    if p.is_dir() and not is_sample_path(p):
        from diagnose.runs import CHECKPOINTS, step_files

        ck = step_files(p / CHECKPOINTS, "pt") if (p / CHECKPOINTS).is_dir() else []
        if not ck:
            raise UserError(f"{p} is a directory with no images and no checkpoints/: pass a "
                            "checkpoint file, a run directory or a folder of sample images")
        return ck[-1][1], f"{p} is a run directory: checking its last checkpoint {ck[-1][1].name}"
    return p, None


def _out_names(inputs) -> list[str]:
    """A distinct file stem per input (two step_0001000.pt of different runs must not collide)."""
    from pathlib import Path

    stems = [Path(str(i)).stem or Path(str(i)).name for i in inputs]
    out = []
    for i, s in enumerate(stems):
        if stems.count(s) > 1:
            parent = Path(str(inputs[i])).resolve().parent.name
            s = f"{parent}_{s}" if parent else f"{s}_{i}"
            if out.count(s) or stems.count(s) > 1:
                s = f"{s}_{i}"
        out.append(s)
    return out


def _passive_threads() -> None:
    """Let torch's OpenMP threads sleep, not spin, between parallel regions (unless the user set
    OMP_WAIT_POLICY). A check is thousands of short threaded operations; spinning threads burn
    the cores that the other thread and the machine's other processes need: on the shared 2-core
    machine a 10,000-sample check took 21.4 s spinning and 16.0 s passive (benchmarks/RESULTS.md).
    Read once, when torch first loads, so it must be set before anything imports torch."""
    import os

    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run(args):
    """Load every input, judge each against one reference, save grids and <name>_check.json
    under --out, and return the verdict (one input) or the comparison (several)."""
    from pathlib import Path

    _passive_threads()
    from diagnose.analysis.judge import infer_dataset, known_dataset
    from diagnose.analysis.protocols import PROTOCOLS
    from diagnose.commands import Result
    from diagnose.core.errors import UserError
    from diagnose.runs.checkpoint import ConfigView

    n = args.n_samples
    if n <= 0 or n > MAX_SAMPLES:
        raise UserError(f"--n-samples must be between 1 and {MAX_SAMPLES:,}, got {n}")
    if n < 20:
        raise UserError(f"--n-samples {n} is too few to measure anything (use at least 20)")
    fail_on = parse_fail_on(args.fail_on)
    arch_kwargs = args.arch_kwargs
    if arch_kwargs:
        try:
            arch_kwargs = json.loads(arch_kwargs)
        except json.JSONDecodeError as e:
            raise UserError(f"--arch-kwargs is not valid JSON: {e}") from None
    device = _device(args.device)
    if args.time_limit is not None:
        from diagnose.core.guard import set_time_limit

        set_time_limit(args.time_limit)
    if (launched := _launch_ranks(args)) is not None:    # --nproc N: this check as N ranks
        return launched
    out = Path(args.out)
    _writable_out(out)   # before minutes of sampling, not after
    dataset = known_dataset(args.dataset) if args.dataset else None
    from dataclasses import replace

    cfg = replace(PROTOCOLS["check"], n_samples=n, seed=args.seed, features=args.features)
    ext_kw = {"inception_weights": args.inception_weights} if args.inception_weights else None
    names = _out_names(args.checkpoint)
    verdicts, grids = [], []
    for text, stem in zip(args.checkpoint, names):
        loaded = _load(text, args, arch_kwargs, device)
        why = None
        if dataset is None:          # the first input decides the one reference for all
            dataset = ConfigView(loaded.config).dataset_name
            if dataset is None:
                dataset, why = infer_dataset(loaded, args.data_root)
                print(f"dataset: {dataset} (inferred: {why}; pass --dataset to choose another)",
                      file=sys.stderr)
            dataset = known_dataset(dataset)
        v, grid = _check_one(loaded, text, stem, dataset, cfg, args, device, out, ext_kw)
        if v is None:            # a rank other than 0 of a --nproc job: rank 0 prints the result
            return Result(data=None, text="")
        if why:
            v["dataset_inferred"] = why
        verdicts.append(v)
        grids.append(grid)
    code = 1 if fail_on and any(fail_on(v) for v in verdicts) else 0
    if len(verdicts) == 1:
        return Result(data=verdicts[0], text=render(verdicts[0], grids[0]), exit_code=code)
    data = {"dataset": verdicts[0].get("dataset_summary"), "results": verdicts}
    return Result(data=data, text=compare_table(verdicts), exit_code=code)


def _load(text: str, args, arch_kwargs, device):
    """A LoadedGenerator, or a SampleSet for a folder of images / .npz / .npy."""
    from diagnose.generators.load import load_generator
    from diagnose.generators.sample_sets import is_sample_path, load_samples

    if is_sample_path(text):
        samples = load_samples(text, limit=args.n_samples)
        print(f"read {text}: {samples.describe()}", file=sys.stderr)
        return samples
    path, note = _resolve_input(text)
    if note:
        print(note, file=sys.stderr)

    def builder(config):
        import trainers  # only the CLI reaches trainers, and only inside the handler

        return trainers.build_generator(config)

    loaded = load_generator(path, arch=args.arch, arch_kwargs=arch_kwargs,
                            latent_dim=args.latent_dim, latent_shape=args.latent_shape,
                            trust_pickle=args.trust_pickle, device=device, builder=builder)
    print(f"loaded {path}: {loaded.describe()}", file=sys.stderr)
    return loaded


def _check_one(loaded, text, stem, dataset, cfg, args, device, out, ext_kw):
    """judge_generator on one input (its D probed when the checkpoint holds one), grid + json."""
    import torch

    from diagnose.analysis.dprobe import probe_applicable
    from diagnose.analysis.judge import judge_generator
    from diagnose.analysis.reference import load_split
    from diagnose.core.atomic import atomic_write_json

    from diagnose.analysis import sharded as scale

    loaded, extractor, main = scale.prepare(args, loaded, dataset, device, ext_kw)   # under torchrun
    if not main:                 # a rank other than 0: its share of samples and features is sent
        return None, None
    D = None
    if loaded.has_latent and loaded.path and probe_applicable(loaded.config):
        from diagnose.generators.load import load_discriminator

        D = load_discriminator(loaded.path, loaded.config)
    judged = judge_generator(
        loaded, cfg, dataset=dataset, discriminator=D, data_root=args.data_root, device=device,
        progress=True, value_range=_data_range(args.data_range, loaded.config),
        subject=str(text), extractor_kwargs=ext_kw, extractor=extractor)
    verdict, first, grid = judged.verdict, judged.samples, None
    if first is not None:
        centres = None
        if loaded.output.kind == "points" and dataset in ("ring8", "grid25"):
            centres = load_split(dataset, "train", size=10).centres
        from diagnose.core.atomic import remove_stale_temps

        # a killed earlier check of this file may have left its temporaries here
        remove_stale_temps(out, min_age_s=600, targets=(f"{stem}_check_samples.png", f"{stem}_check.json"))
        try:
            grid = save_grid(first if torch.is_tensor(first) else torch.as_tensor(first),
                             out / f"{stem}_check_samples.png", loaded.output.kind, centres)
            verdict["sample_grid"] = grid
        except OSError as e:
            print(f"note: could not save the sample grid under {out}: {e}", file=sys.stderr)
    try:
        atomic_write_json(out / f"{stem}_check.json", verdict)
    except OSError as e:
        print(f"note: could not save {stem}_check.json under {out}: {e}", file=sys.stderr)
    return verdict, grid


# ---------------------------------------------------------------- --nproc: the check as N ranks
def _add_scale_flags(p) -> None:
    """The check command's --nproc flag."""
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="shard sampling and feature extraction over N processes of this machine "
                        "(torchrun; one per GPU with --device cuda); the numbers are those of one process")


def _launch_ranks(args):
    """``--nproc N`` outside a job: run this check as N ranks and return the Result. Inside a job
    (``--nproc`` or the user's own torchrun): join it, so that "cuda" is this rank's GPU; None."""
    import torch

    from diagnose.commands import Result
    from diagnose.core import dist as dd
    from diagnose.core.errors import UserError

    n = int(getattr(args, "nproc", 1))
    if n < 1:
        raise UserError("--nproc must be at least 1")
    if dd.launched():
        dd.init(args.device)
        return None
    if n == 1:
        return None
    if (args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())) \
            and n > torch.cuda.device_count():
        raise UserError(f"--nproc {n}: this machine has {torch.cuda.device_count()} GPU(s): one process per GPU")
    args.json = False                         # rank 0 printed the result
    code = dd.launch(list(args.argv), n, threads=None)
    return Result(data=None, text="", exit_code=code)
