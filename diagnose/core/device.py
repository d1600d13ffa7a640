"""The one device resolver: what ``--device`` and ``device=`` mean everywhere."""
from __future__ import annotations

from diagnose.core.errors import UserError


def resolve_device(name: str = "auto"):
    """``auto`` -> cuda when a GPU is available, else cpu; ``cpu``, ``cuda``, ``cuda:N`` as given.
    A cuda device without a GPU, or any other name, is a UserError. Returns a ``torch.device``."""
    import torch

    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise UserError(f"unknown device {name!r} (auto, cpu, cuda or cuda:N)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r} (auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} GPU(s)")
    return dev
