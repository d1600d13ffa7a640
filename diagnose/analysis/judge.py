"""The one verdict path: a generator (or a set of samples) -> samples -> features -> metrics ->
rules, plus the discriminator probe when a discriminator is at hand.

    judged = judge_generator(loaded, PROTOCOLS["check"], dataset="mnist")
    judged.verdict      # the verdict dict (diagnose.core.verdict schema)
    judged.samples      # the first generated batch (for the sample grid)

``diagnose check``, the run verdict (diagnose.analysis.run_verdict), snapshot evaluation during training
(analysis.snapshot), ``diagnose validate`` (through check_generator, below) and the Python API
(``diagnose.check``) all come here, so they cannot disagree about the same generator. Its
settings are one :class:`~diagnose.analysis.protocols.CheckConfig`; ``PROTOCOLS`` names the one
each caller uses.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from diagnose.analysis.cache import StageCache
from diagnose.analysis.pipeline import FiniteStream, latent_profile, measure
from diagnose.analysis.protocols import PROTOCOLS, CheckConfig
from diagnose.core.errors import UserError
from diagnose.runs.checkpoint import ConfigView

#: Fewest generated samples a check measures (k-NN metrics and mode counts need a few dozen).
MIN_SAMPLES = 20
#: Spread (largest |coordinate|) of 2D points below which ring8 (unit circle) fits, and above
#: which grid25 (centres up to 4 from the origin) fits; in between both do.
RING_MAX, GRID_MIN = 2.0, 1.5
#: Image sizes the digit sets are read at without resizing artefacts (native 28, padded 32).
DIGIT_SIZES = (28, 32)


@dataclass
class Judged:
    """What judge_generator returns: the verdict dict, the first generated batch, and for callers
    that show more than the verdict (snapshot rows) the measured metrics, the generated features
    and the reference they were judged against."""

    verdict: dict
    samples: torch.Tensor | None = None
    measured: dict | None = None
    features: dict | None = None
    reference: dict | None = None


def dataset_candidates(output, data_root=None) -> list[tuple[str, str]]:
    """Shipped datasets whose samples look like ``output`` (an OutputInfo): (name, why) pairs."""
    if output.kind == "points":
        if tuple(output.shape) != (2,):
            return []
        spread = max(abs(output.probe_min), abs(output.probe_max))
        found = []
        if spread < RING_MAX:
            found.append(("ring8", f"2D points within {spread:.2g} of the origin"))
        if spread > GRID_MIN:
            found.append(("grid25", f"2D points reaching {spread:.2g} from the origin"))
        return found
    c, h = output.shape[0], output.shape[-1]
    size = "x".join(map(str, output.shape))
    if c == 1:
        return [("mnist", f"{size} gray images; mnist is the gray image set shipped")]
    found = []
    if c == 3 and h in DIGIT_SIZES:
        found.append(("stacked-mnist", f"{size} RGB images at a digit size"))
    if c == 3 and data_root:
        from pathlib import Path

        root = Path(data_root)
        if any((d / "img_align_celeba").is_dir() for d in (root, root / "celeba")):
            found.append(("celeba", f"{size} RGB images and CelebA under {root}"))
    return found


def infer_dataset(loaded, data_root=None) -> tuple[str, str]:
    """(dataset name, why) when exactly one shipped dataset fits the output; UserError otherwise,
    listing the candidates (or saying none fits)."""
    found = dataset_candidates(loaded.output, data_root)
    if len(found) == 1:
        return found[0]
    what = loaded.output.describe()
    if not found:
        raise UserError(f"no shipped dataset fits this {what}: pass --dataset NAME (mnist, "
                        "stacked-mnist, ring8, grid25, celeba) or folder:PATH with your training images")
    names = ", ".join(n for n, _ in found)
    raise UserError(f"several datasets fit this {what} ({names}): pass --dataset with one of them")


def known_dataset(name: str) -> str:
    """``name`` if it names a dataset; UserError otherwise."""
    from diagnose.data import ALIASES, DATASETS

    if name in DATASETS or name in ALIASES or name.startswith("folder:"):
        return name
    raise UserError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or folder:PATH")


def judge_generator(loaded, config: CheckConfig | None = None, *, dataset: str | None = None,
                    discriminator: torch.nn.Module | None = None, value_range=None,
                    data_root=None, device: str = "cpu", progress: bool = False, cache=None,
                    extractor=None, subject: str | None = None,
                    extractor_kwargs: dict | None = None, reference: dict | None = None) -> Judged:
    """Judge ``loaded`` (a LoadedGenerator, or a SampleSet of images/points given as files).

    config:        the protocol (default PROTOCOLS["check"]); n_samples, seed, features, ...
    dataset:       the real data; None: the one the checkpoint records, else the one shipped
                   dataset that fits the output (UserError when none or several do)
    discriminator: D as an nn.Module, probed for batch-statistics judging when the run's config
                   says how it was fed (see analysis.dprobe.probe_applicable)
    value_range:   the range the real data was trained in (range check); None: the recorded one
    extractor:     an already built feature extractor (else config.features or the dataset's)
    reference:     an already built reference for that extractor and dataset (snapshots keep one)
    Returns Judged(verdict dict, first generated batch).
    """
    from diagnose.analysis import detectors as rules
    from diagnose.analysis.reference import build_reference
    from diagnose.features import default_extractor_for, get_extractor
    from diagnose.metrics import ranges

    cfg = config or PROTOCOLS["check"]
    note = (lambda m: print(m, file=sys.stderr)) if progress else (lambda m: None)
    extra: dict[str, Any] = {}
    inferred = None
    recorded = ConfigView(getattr(loaded, "config", None))
    if dataset is None:
        dataset = recorded.dataset_name
    if dataset is None:
        dataset, inferred = infer_dataset(loaded, data_root)
        note(f"dataset: {dataset} (inferred: {inferred}; pass --dataset to choose another)")
        extra["dataset_inferred"] = inferred
    dataset = known_dataset(dataset)
    if value_range is None:
        value_range = recorded.value_range
    has_latent = getattr(loaded, "has_latent", True)
    skipped = []
    if not has_latent:
        count = int(loaded.count)
        if count < cfg.n_samples:
            cfg = replace(cfg, n_samples=count)
        skipped.append("latent coverage and latent-distance profile (samples were given, not a "
                       "generator: there is no latent to vary)")
    if cfg.n_samples < MIN_SAMPLES:
        raise UserError(f"{cfg.n_samples} samples are too few to measure anything (at least {MIN_SAMPLES})")
    if extractor is None:
        extractor = get_extractor(cfg.features or default_extractor_for(dataset), device,
                                  **(extractor_kwargs or {}))
    note(f"reference: {dataset} with {extractor.name} features (cached after the first run)")
    ref = reference or build_reference(dataset, extractor, cfg.n_samples, data_root=data_root,
                                       k=cfg.k, cache=cache, progress=progress,
                                       batch_size=cfg.batch_size)
    note(f"sampling {cfg.n_samples:,} from the {'generator' if has_latent else 'files'}")
    # Sampling streams into the feature pass (see FiniteStream): memory grows with features only.
    stream = FiniteStream(loaded, cfg.n_samples, cfg, keep_points=loaded.output.kind == "points")
    try:
        out = extractor.extract(iter(stream), progress=progress, total=cfg.n_samples)
    except UserError:
        if not stream.done or stream.ok:   # a real failure, not "every sample was NaN"
            raise
        out = None
    nonfinite = stream.bad / max(1, cfg.n_samples)
    rng = None
    if loaded.output.kind == "image" and getattr(loaded, "raw_range_known", True):
        rng = ranges.range_check(loaded.output.probe_min, loaded.output.probe_max, value_range)
    measured, profile = None, None
    if out is not None and stream.ok >= max(10, cfg.n_samples // 10):  # enough finite samples
        points = torch.cat(stream.points) if loaded.output.kind == "points" else None
        stream.points = []
        note("computing metrics")
        # KID's real-side sums are kept beside the reference, in the cache it was built with
        # (a reference handed in, as snapshots do, may come from another cache: not there).
        stage_cache = None if reference is not None else cache if cache is not None else StageCache()
        measured = measure(out, ref, cfg, points=points, cache=stage_cache)
        if has_latent:
            profile = latent_profile(loaded, extractor, ref, cfg)
    if skipped:
        extra["skipped"] = skipped
    verdict = rules.verdict_from(
        subject=subject or str(getattr(loaded, "path", None) or "generator"),
        measured=measured, reference=ref, profile=profile, range_info=rng,
        nonfinite=nonfinite, features=extractor.name, context=_training_context(loaded, has_latent),
        extra={"loading": loaded.describe(), "dataset": ref["dataset"].get("source"),
               "dataset_summary": ref["dataset"], "protocol": asdict(cfg), **extra})
    if discriminator is not None and has_latent and isinstance(loaded.module, torch.nn.Module):
        verdict = _with_probe(verdict, loaded, discriminator, device, data_root, note)
    return Judged(verdict, stream.first, measured, out, ref)


def _training_context(loaded, has_latent: bool) -> dict:
    """What is known of how the generator was trained, so advice fits it: the latent shape it was
    sampled with, and the loss and learning rates its checkpoint's config records."""
    ctx = {"latent_shape": list(loaded.latent_shape)} if has_latent and loaded.latent_shape else {}
    config = loaded.config if isinstance(loaded.config, dict) else {}
    sub = lambda k: config.get(k) if isinstance(config.get(k), dict) else {}  # noqa: E731
    found = {"loss": sub("losses").get("adversarial", config.get("loss")),
             "lr_g": sub("optimizer").get("lr_g", config.get("lr_g")),
             "lr_d": sub("optimizer").get("lr_d", config.get("lr_d"))}
    for key, v in found.items():       # a user's own config may hold anything: plain values only
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            ctx[key] = v
    return ctx


def _with_probe(verdict: dict, loaded, D, device, data_root, note) -> dict:
    """``verdict`` merged with the batch-statistics probe of ``D`` (when the run can be probed)."""
    from diagnose.analysis.dprobe import probe_applicable, probe_modules
    from diagnose.core.verdict import merge_verdicts

    config = loaded.config or {}
    if not probe_applicable(config):
        return verdict
    note("probing the discriminator (batch statistics)")
    probe = probe_modules(loaded.module, D, config, latent_shape=loaded.latent_shape, device=device,
                          data_root=data_root, subject=verdict["subject"])
    if probe is None:
        return verdict
    merged = merge_verdicts(verdict["subject"], verdict, probe)
    return {**verdict, **merged, "d_probe": probe["d_probe"]}


def check_generator(loaded, dataset_name: str, *, features: str | None = None,
                    n_samples: int = PROTOCOLS["check"].n_samples, data_root=None, seed: int = 0,
                    device: str = "cpu", progress: bool = True, value_range=None,
                    cache: StageCache | None = None, extractor=None, subject: str | None = None,
                    extractor_kwargs: dict | None = None, return_samples: bool = False,
                    kid_subsets: int = PROTOCOLS["check"].kid_subsets):
    """Measure ``loaded`` against ``dataset_name`` and return the verdict dict.

    The keyword form of :func:`judge_generator` (the one verdict path), with a CheckConfig built
    from the keywords. return_samples: also return the first generated batch.
    """
    cfg = CheckConfig(n_samples=int(n_samples), seed=int(seed), kid_subsets=int(kid_subsets),
                      features=features)
    j = judge_generator(loaded, cfg, dataset=dataset_name, value_range=value_range,
                        data_root=data_root, device=device, progress=progress, cache=cache,
                        extractor=extractor, subject=subject, extractor_kwargs=extractor_kwargs)
    return (j.verdict, j.samples) if return_samples else j.verdict
