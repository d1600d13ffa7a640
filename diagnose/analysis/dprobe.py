"""Does D judge samples, or whole batches by their BatchNorm statistics? (report 003)

A D with BatchNorm in training mode normalises each batch by its own mean and variance. When real
and fake batches go through it separately, D can learn to tell the *batches* apart by their
statistics, and its output for a sample then depends on which batch the sample sits in. This is
what report 003's losses hid (docs/EXPERIMENTS.md#report-003: separate real and fake batches through BatchNorm).

The probe measures that dependence directly, with the run's own D and G and no training:

- separate: mean D(x) on real-only batches and mean D(G(z)) on fake-only batches, of the run's
  batch size, as the loop fed them;
- mixed: the same real and fake images, each real batch joined with a fake batch into one batch;
- control: each real batch joined with another real batch (same composition, twice the size):
  how much D's output moves from the batch size alone.

``shift`` = mean |separate - mixed| over the batches (real and fake); the flag fires when the
larger shift is at least ``MIN_SHIFT`` and ``NOISE_FACTOR`` times the control's shift. Eval-mode
outputs (running statistics) are reported as evidence. Runs that fed D real and fake in one batch
are not probed: their D never saw a batch of one kind, so the leak cannot arise in training (a
joint-trained D does answer differently to one-kind batches, which is not a fault of the run).
Written by hand: no library probes a discriminator's dependence on batch composition.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from diagnose.core.verdict import Flag

MIN_SHIFT = 0.1        # D's mean output moves by at least this much (probability) with the mix...
NOISE_FACTOR = 4.0     # ...and by this many times what doubling a real-only batch moves it
MAX_BATCHES = 4        # batches of each kind probed (one forward of G per batch)


def _has_batchnorm(m: nn.Module) -> bool:
    return any(isinstance(x, nn.modules.batchnorm._BatchNorm) for x in m.modules())


@torch.no_grad()
def probe_batch_statistics(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, batch: int,
                           to_prob=torch.sigmoid) -> dict | None:
    """Measurements of how D's output depends on batch composition (see the module doc), or None
    when D has no BatchNorm (then it cannot) or there are not two full batches of each.

    real, fake: images on D's device, at least ``2 * batch`` of each; to_prob maps D's output to a
    probability (identity for a Sigmoid head). D itself is left untouched (a copy is probed, so
    its running statistics do not move).
    """
    n = min(len(real) // batch, len(fake) // batch, MAX_BATCHES)
    if not _has_batchnorm(D) or n < 2:       # two real batches at least: one is the control's
        return None
    probe = copy.deepcopy(D)
    p = lambda x: to_prob(probe(x).float().view(-1))  # noqa: E731
    sep_r, sep_f, mix_r, mix_f, ctl = [], [], [], [], []
    probe.train()
    for i in range(n):
        r, f = real[i * batch:(i + 1) * batch], fake[i * batch:(i + 1) * batch]
        other = real[((i + 1) % n) * batch:((i + 1) % n + 1) * batch]
        sep_r.append(p(r).mean())
        sep_f.append(p(f).mean())
        both = p(torch.cat([r, f]))
        mix_r.append(both[:batch].mean())
        mix_f.append(both[batch:].mean())
        ctl.append(p(torch.cat([r, other]))[:batch].mean())
    probe.eval()
    ev_r = p(real[:n * batch]).mean()
    ev_f = p(fake[:n * batch]).mean()
    t = lambda xs: torch.stack(xs)  # noqa: E731
    sr, sf, mr, mf, c = t(sep_r), t(sep_f), t(mix_r), t(mix_f), t(ctl)
    return {
        "batches": n, "batch": int(batch),
        "separate": {"d_real": float(sr.mean()), "d_fake": float(sf.mean())},
        "mixed": {"d_real": float(mr.mean()), "d_fake": float(mf.mean())},
        "eval_mode": {"d_real": float(ev_r), "d_fake": float(ev_f)},
        "shift_real": float((sr - mr).abs().mean()),
        "shift_fake": float((sf - mf).abs().mean()),
        "control_shift": float((sr - c).abs().mean()),
    }


def batch_statistics_flags(m: dict | None) -> list[Flag]:
    """The ``batch_stat_leak`` flag when the probe shows D judging batches, else nothing."""
    if not m:
        return []
    shift = max(m["shift_real"], m["shift_fake"])
    if shift < MIN_SHIFT or shift < NOISE_FACTOR * m["control_shift"]:
        return []
    s, x = m["separate"], m["mixed"]
    return [Flag(
        "batch_stat_leak", "warn",
        f"D judges whole batches by their BatchNorm statistics: the same real images get D(x) "
        f"{s['d_real']:.2f} in real-only batches and {x['d_real']:.2f} when mixed with fakes, the "
        f"fakes {s['d_fake']:.2f} alone and {x['d_fake']:.2f} mixed (doubling a real-only batch "
        f"moves D(x) by {m['control_shift']:.2f}).",
        dict(m), advice=[
            "Pass real and fake through D in one batch (torch.cat) so BatchNorm sees both, or "
            "replace D's BatchNorm with a per-sample normalisation (none, LayerNorm/GroupNorm, "
            "spectral norm).",
            "Do not read success from the losses of such a D (report 003, docs/EXPERIMENTS.md#report-003, "
            "saw D and G losses both near zero): judge the samples.",
            "Early in training this is common and passes: a healthy separate-batch run (c1_range) "
            "showed it for its first ~2,000 steps only; one that persists (report 003's c1, still "
            "there at 40,000 steps) is the problem. Probe a later checkpoint with diagnose check."],
        confidence=0.75)]


def probe_applicable(config: dict | None) -> bool:
    """Whether a run with this config can be probed: MNIST / stacked-mnist images, a D the config
    describes, and real and fake fed to D as separate batches (the leak needs batches of one
    kind; a run that fed mixed batches, or a user's run that does not say, is not probed)."""
    from diagnose.runs.checkpoint import ConfigView

    view = ConfigView(config)
    if view.dataset.get("name") not in ("mnist", "stacked-mnist") or not view.config.get("discriminator"):
        return False
    return not view.joint_batch


def probe_modules(G, D, config: dict, *, latent_shape, device: str = "cpu", data_root=None,
                  seed: int = 0, subject: str = "discriminator") -> dict | None:
    """Probe discriminator ``D`` with fakes of generator ``G`` (both nn.Modules, left untouched:
    copies are run) against the run's data; the verdict dict (flags + ``d_probe`` numbers), or
    None when the run cannot be probed (see probe_applicable) or D has no BatchNorm."""
    from diagnose.data import load_dataset
    from diagnose.core.verdict import make_verdict

    if not probe_applicable(config) or not _has_batchnorm(D):
        return None
    from diagnose.runs.checkpoint import ConfigView

    view = ConfigView(config)
    ds = view.dataset
    batch = int(config.get("batch") or 64)
    n = MAX_BATCHES * batch
    shape = ds.get("shape") or []
    data = load_dataset(view.dataset_name, data_root=data_root, value_range=view.value_range or (-1, 1),
                        resolution=shape[-1] if len(shape) == 3 else None, size=ds.get("size"), seed=seed)
    if len(data) < n:
        return None
    g = torch.Generator().manual_seed(seed)
    real = data.get(torch.randperm(len(data), generator=g)[:n]).to(device)
    G = copy.deepcopy(G).to(device)
    G.train()                                   # as the loop drew its fakes
    with torch.no_grad():
        fake = torch.cat([G(torch.randn((batch, *latent_shape), generator=g).to(device)).float()
                          for _ in range(MAX_BATCHES)])
    head = (config.get("losses") or {}).get("adversarial")
    to_prob = (lambda x: x) if head == "bce" else torch.sigmoid     # bce: D ends in a Sigmoid
    m = probe_batch_statistics(D.to(device), real, fake, batch, to_prob=to_prob)
    if m is None:
        return None
    return make_verdict(subject, batch_statistics_flags(m), {}, d_probe=m)


def probe_checkpoint(ckpt_path, config: dict, builder, d_builder, *, device: str = "cpu",
                     data_root=None, seed: int = 0) -> dict | None:
    """Probe the D saved in a gan-diagnose checkpoint (see probe_modules); None when there is
    nothing to probe: no builders, no discriminator in the file, or a run probe_applicable refuses.
    The file is read with ``weights_only=True``."""
    if builder is None or d_builder is None or not probe_applicable(config):
        return None
    from pathlib import Path

    from diagnose.core.errors import UserError
    from diagnose.runs.checkpoint import read_weights

    try:     # a file the generator check could read; one it could not was reported there
        ck = read_weights(Path(ckpt_path))
    except UserError:
        return None
    if not isinstance(ck, dict) or "discriminator" not in ck or "generator" not in ck:
        return None
    try:
        G, D = builder(config), d_builder(config)
        G.load_state_dict(ck["generator"])
        D.load_state_dict(ck["discriminator"])
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError):   # nets the config
        return None            # cannot build, or weights that do not fit them
    return probe_modules(G, D, config, latent_shape=tuple(G.latent_shape), device=device,
                         data_root=data_root, seed=seed, subject=str(ckpt_path))
