"""The Python API: the same verdicts as the command line, for notebooks and scripts.

    import diagnose
    v = diagnose.check(G, dataset="mnist")          # an nn.Module, a checkpoint path, samples
    v.code, v.flags, v.metrics, v.to_json()
    diagnose.judge_logs("train.log")                # losses only
    diagnose.verdict_for_run("runs/mine")           # dynamics + samples; writes verdict.json

Each goes through the one verdict path (diagnose.analysis.judge.judge_generator) with the
protocol the CLI uses (diagnose.analysis.protocols.PROTOCOLS), so the API and the CLI agree.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from diagnose.core.verdict import Verdict


def _trainers_d_builder():
    """The installed discriminator builder (trainers'), for the probe; None without one."""
    from diagnose.generators.builders import installed_builder

    return installed_builder("discriminator")


def _as_loaded(G, *, arch, arch_kwargs, latent_dim, latent_shape, trust_pickle, device, n_samples):
    import torch

    from diagnose.generators.load import load_generator, wrap_generator
    from diagnose.generators.sample_sets import SampleSet, is_sample_path, load_samples

    if isinstance(G, torch.nn.Module):
        return wrap_generator(G, latent_dim=latent_dim, latent_shape=latent_shape, device=device)
    if torch.is_tensor(G) or type(G).__module__ == "numpy":       # samples in memory
        return SampleSet(torch.as_tensor(G), path="<samples>", form="array")
    if is_sample_path(G):
        return load_samples(G, limit=n_samples)
    return load_generator(G, arch=arch, arch_kwargs=arch_kwargs, latent_dim=latent_dim,
                          latent_shape=latent_shape, trust_pickle=trust_pickle, device=device)


def check(G, dataset: str | None = None, *, n_samples: int | None = None, config=None,
          discriminator=None, arch: str | None = None, arch_kwargs=None,
          latent_dim: int | None = None, latent_shape=None, trust_pickle: bool = False,
          device: str = "cpu", data_root=None, value_range=None, progress: bool = False) -> Verdict:
    """The verdict of ``diagnose check`` on a generator.

    G:             an nn.Module (latent size from its latent_shape/latent_dim attribute or first
                   layer, or ``latent_dim``), a checkpoint path (any form ``diagnose check``
                   reads), a folder of images / .npz / .npy, or a tensor of samples
    dataset:       the real data (default: recorded in the checkpoint, else the one that fits)
    n_samples:     generated samples (default: the "check" protocol's 10,000)
    config:        a CheckConfig (diagnose.analysis.protocols) for every other setting
    discriminator: D as an nn.Module for the batch-statistics probe (a checkpoint's own D is
                   used when it holds one)
    """
    from diagnose.analysis.dprobe import probe_applicable
    from diagnose.analysis.judge import judge_generator
    from diagnose.analysis.protocols import PROTOCOLS
    from diagnose.generators.load import load_discriminator

    cfg = config or PROTOCOLS["check"]
    if n_samples is not None:
        cfg = replace(cfg, n_samples=int(n_samples))
    loaded = _as_loaded(G, arch=arch, arch_kwargs=arch_kwargs, latent_dim=latent_dim,
                        latent_shape=latent_shape, trust_pickle=trust_pickle, device=device,
                        n_samples=cfg.n_samples)
    if discriminator is None and loaded.has_latent and loaded.path and probe_applicable(loaded.config):
        discriminator = load_discriminator(loaded.path, loaded.config)
    return Verdict(judge_generator(loaded, cfg, dataset=dataset, discriminator=discriminator,
                                   value_range=value_range, data_root=data_root, device=device,
                                   progress=progress).verdict)


def judge_logs(path, format: str = "auto", pattern: str | None = None) -> Verdict:
    """The verdict of ``diagnose logs`` on a training log: losses and D outputs only (a run
    directory, a TensorBoard dir, CSV, JSONL or a text log)."""
    from diagnose import dynamics

    judge = getattr(dynamics, "judge_logs", None)
    v = judge(path, format=format, pattern=pattern) if judge else \
        dynamics.analyze(path, format=format, pattern=pattern)
    if isinstance(v, list):           # a folder of several runs: one verdict each
        return [x if isinstance(x, Verdict) else Verdict(x) for x in v]
    return v if isinstance(v, Verdict) else Verdict(v)


def verdict_for_run(run_dir, dataset: str | None = None, *, samples: bool = True,
                    n_samples: int | None = None, write: bool = True, device: str = "cpu",
                    data_root=None, progress: bool = False) -> Verdict:
    """The verdict of ``diagnose verdict RUN_DIR``: training dynamics + a sample check of the
    last checkpoint (+ the discriminator probe where it applies); writes verdict.json when
    ``write``."""
    from diagnose.core.errors import UserError
    from diagnose.analysis.run_verdict import judge_run

    if not Path(run_dir).is_dir():
        raise UserError(f"no such run directory: {run_dir}")
    return Verdict(judge_run(run_dir, samples=samples, n_samples=n_samples, device=device,
                             data_root=data_root, progress=progress, write=write,
                             dataset=dataset, d_builder=_trainers_d_builder()))
