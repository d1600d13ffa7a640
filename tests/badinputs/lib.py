"""Builders of bad inputs for the reliability tests: every file is generated under a tmp dir.

Kept next to the tests (not shipped): tiny generator classes written to ``arch.py``, checkpoints
in each broken form, logs that are not logs, a pickle that would run code, an unwritable path.
"""
from __future__ import annotations

import importlib
import os
import socket
from pathlib import Path

ARCH = '''
import torch
import torch.nn as nn


class PointG(nn.Module):
    """A tiny 2D-points generator: z (N, 8) -> (N, 2)."""
    latent_dim = 8

    def __init__(self, nz=8):
        super().__init__()
        self.net = nn.Linear(nz, 2)

    def forward(self, z):
        return torch.tanh(self.net(z.flatten(1))) * 1.2


class WideG(nn.Module):
    """Same role as PointG but 16 inputs: its shapes do not fit PointG's weights."""
    latent_dim = 16

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(16, 2)

    def forward(self, z):
        return self.net(z.flatten(1))


class RaisingG(PointG):
    """Raises inside forward."""

    def forward(self, z):
        raise RuntimeError("boom inside the generator")


class NaNG(PointG):
    """Returns NaN everywhere: a diverged generator."""

    def forward(self, z):
        return self.net(z.flatten(1)) * float("nan")


class ScalarG(PointG):
    """Returns one number per sample: a discriminator-like output, not samples."""

    def forward(self, z):
        return self.net(z.flatten(1))[:, :1]


class BadBatchG(PointG):
    """Ignores the batch size: always 3 samples."""

    def forward(self, z):
        return self.net(z.flatten(1))[:3]


class NeedsArg(PointG):
    def __init__(self, width):
        super().__init__()
'''


def importable(*modules: str) -> bool:
    """True when every module imports (a part of the tool that has landed)."""
    for m in modules:
        try:
            importlib.import_module(m)
        except Exception:
            return False
    return True


def arch_file(tmp: Path) -> Path:
    p = tmp / "arch.py"
    if not p.exists():
        p.write_text(ARCH)
    return p


def point_state(tmp: Path, name: str = "sd.pt") -> Path:
    """A plain state dict of PointG (seeded)."""
    import torch

    arch_file(tmp)
    torch.manual_seed(0)
    net = torch.nn.Linear(8, 2)
    p = tmp / name
    torch.save({"net.weight": net.weight.detach(), "net.bias": net.bias.detach()}, p)
    return p


def truncated_checkpoint(tmp: Path) -> Path:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"generator": {"w": torch.randn(64, 64)}}, buf)
    data = buf.getvalue()
    p = tmp / "cut.pt"
    p.write_bytes(data[: len(data) // 2])
    return p


def discriminator_checkpoint(tmp: Path) -> Path:
    import torch

    d = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Linear(16, 1))
    p = tmp / "netD.pt"
    torch.save({"netD": d.state_dict(), "optimizerD": {}}, p)
    return p


class Payload:
    """Unpickling this creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_checkpoint(path: Path, marker: Path, *, legacy: bool = False) -> Path:
    """A torch.save file that looks like a checkpoint and runs code when fully unpickled."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {"format": "gan-diagnose/1", "step": 10, "config": {}, "generator": Payload(str(marker)),
           "discriminator": None}
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    assert not marker.exists()
    return path


def plain_pickle_payload(path: Path, marker: Path) -> Path:
    import pickle

    path.write_bytes(pickle.dumps(Payload(str(marker))))
    return path


def unwritable_path(tmp: Path) -> Path:
    """A path that cannot be created: under a 0o500 folder, or (as root, where modes do not
    block writes) under a regular file."""
    d = tmp / "readonly"
    d.mkdir(exist_ok=True)
    d.chmod(0o500)
    if os.access(d, os.W_OK):            # root: chmod does not stop us
        f = tmp / "a_file"
        f.write_text("not a folder\n")
        return f / "sub"
    return d / "sub"


def busy_port() -> tuple[socket.socket, int]:
    """A listening socket on 127.0.0.1 and its port (close it when done)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def run_dir(tmp: Path, name: str = "run", *, metrics: str | None = None,
            config: str | None = None) -> Path:
    """A run directory with the given raw metrics.jsonl / config.json text."""
    d = tmp / name
    (d / "checkpoints").mkdir(parents=True, exist_ok=True)
    (d / "samples").mkdir(exist_ok=True)
    if config is not None:
        (d / "config.json").write_text(config)
    if metrics is not None:
        (d / "metrics.jsonl").write_text(metrics)
    return d


def healthy_metrics(n: int = 60) -> str:
    import json
    import math

    rows = []
    for s in range(1, n + 1):
        rows.append({"step": s, "d_loss": 1.3 + 0.05 * math.sin(s), "g_loss": 0.8 + 0.05 * math.cos(s),
                     "d_real": 0.55, "d_fake": 0.45})
    return "".join(json.dumps(r) + "\n" for r in rows)


def tensorboard_without_scalars(tmp: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    d = tmp / "tb"
    w = SummaryWriter(str(d))
    w.add_text("note", "no numbers here", 0)
    w.close()
    return d


# ------------------------------------------------------------------ issue 15: odd but valid content
def odd_run(tmp: Path, kind: str) -> Path:
    """A run directory whose files are valid JSON but odd: nested 100,000 deep, a 400-digit step,
    metric keys that are not identifiers, every known key of the wrong type."""
    import json

    good = healthy_metrics()
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    files = {
        "deep-config": {"config.json": deep, "metrics.jsonl": good},
        "deep-verdict": {"config.json": "{}", "verdict.json": "[" * 100_000 + "]" * 100_000,
                         "metrics.jsonl": good},
        "deep-line": {"metrics.jsonl": good + '{"step": 61, "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n"},
        "bigint-step": {"metrics.jsonl": good + '{"step": ' + "9" * 400 + ', "d_loss": 1.0}\n'},
        "bigint-value": {"metrics.jsonl": good + '{"step": 61, "d_loss": ' + "9" * 400 + "}\n"},
        "slash-keys": {"metrics.jsonl": good.replace('"d_loss"', '"loss/D_real"')
                       .replace('"g_loss"', '"loss/G"')},
        "config-types": {"config.json": json.dumps({"experiment": 5, "variant": ["a"], "dataset": 7,
                                                    "latent_shape": "x", "value_range": "abc",
                                                    "steps": "many", "generator": 3}),
                         "metrics.jsonl": good},
        "verdict-types": {"config.json": "{}", "metrics.jsonl": good, "verdict.json": json.dumps(
            {"verdict": "healthy", "flags": [1, {"code": 2}, {"code": "diverged", "steps": "x",
                                                              "evidence": 5}],
             "confidence": "high", "metrics": []})},
        "metrics-types": {"metrics.jsonl": good + "".join(json.dumps(r) + "\n" for r in (
            {"step": "61", "d_loss": "x"}, {"step": 62, "d_loss": [1, 2], "g_loss": {"a": 1}},
            {"step": 63.5, "d_loss": True}, {"step": None}, {"step": 64, "d_loss": None}))},
    }[kind]
    d = tmp / f"odd_{kind}"
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def odd_trainers_checkpoint(tmp: Path) -> Path:
    """A gan-diagnose checkpoint of the ring8 generator whose config and latent_shape have wrong types."""
    import torch

    from trainers.build import build_generator, model_specs
    from trainers.experiments import get_experiment

    g, d = model_specs(get_experiment("mixtures").variants["ring8"].config)
    G = build_generator({"generator": g})
    ck = {"format": "gan-diagnose/1", "step": 3, "latent_shape": "not a shape",
          "config": {"generator": g, "discriminator": 5, "latent_shape": {"a": 1},
                     "dataset": {"name": "ring8", "value_range": "abc"}, "value_range": [1, "x"]},
          "generator": G.state_dict()}
    p = tmp / "odd.pt"
    torch.save(ck, p)
    return p


def odd_resume_checkpoint(tmp: Path) -> Path:
    """A runs root whose mixtures/ring8 checkpoint loads (weights only) but holds the wrong things."""
    import torch

    ck = tmp / "runs" / "mixtures" / "ring8" / "checkpoints" / "step_0000005.pt"
    ck.parent.mkdir(parents=True)
    (ck.parent.parent / "metrics.jsonl").write_text(healthy_metrics(5))
    torch.save({"format": "gan-diagnose/1", "generator": {"w": torch.zeros(2)}, "discriminator": 3,
                "optimizers": "none", "step": "five", "loop": [1]}, ck)
    return tmp / "runs"


def file_writing_torchscript(tmp: Path) -> Path:
    """A TorchScript generator whose forward overwrites the first bytes of ``tmp/target.txt``
    (created here with "untouched"; the corpus test fails if that content changes)."""
    import warnings

    import torch

    from badinputs.hostile import FromFileG

    target = tmp / "target.txt"
    target.write_text("untouched\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = torch.jit.script(FromFileG(str(target)))
    p = tmp / "writer.pt"
    sm.save(str(p))
    return p
