"""The checkpoint contract: its format, how one is assembled, and the one weights-only reader.

A gan-diagnose checkpoint (``checkpoints/step_XXXXXXX.pt``, written by Monitor for the trainers
and for users' loops alike) is a dict that ``torch.load(weights_only=True)`` reads without running
code: ``format`` (:data:`FORMAT`), ``config`` (plain JSON types), ``step``, ``latent_shape``,
``generator`` / ``discriminator`` state dicts, ``optimizers``, ``rng`` and ``arch`` (the classes
Monitor saw, so a user's generator can be rebuilt without the training script).

Every place that reads a file with torch.load goes through :func:`read_weights`, so what counts
as truncated, corrupt or code-needing, and the short cause shown to the user, is decided once.
"""
from __future__ import annotations

import os
import pickle
from typing import Any

from diagnose.core.errors import UserError

FORMAT = "gan-diagnose/1"


class WeightsReadError(UserError):
    """A file that ``torch.load(weights_only=True)`` refused.

    cause:       torch's reason in one short line (its paragraphs of advice cut off)
    truncated:   the file ends early
    needs_code:  a pickle that names classes or functions (loading it would run code)
    raw:         torch's whole message (it names the global a pickle needs)
    """

    def __init__(self, path, cause: str, *, truncated: bool = False, needs_code: bool = False,
                 raw: str = ""):
        self.path, self.cause, self.truncated, self.needs_code, self.raw = \
            path, cause, truncated, needs_code, raw
        super().__init__(f"cannot read {path}: {cause}")


def read_weights(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: never runs code from the file. Raises
    :class:`WeightsReadError` (a UserError) for a truncated, corrupt or code-needing file."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except EOFError:
        raise WeightsReadError(path, "the file ends early (truncated)", truncated=True) from None
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError) as e:
        msg = str(e)
        needs_code = "Weights only load failed" in msg and ("GLOBAL" in msg or "global" in msg)
        cause = msg.split("WeightsUnpickler error:")[-1].split("Check the documentation")[0]
        raise WeightsReadError(path, " ".join(cause.split())[:160], needs_code=needs_code,
                               raw=msg) from None


def make_checkpoint(*, config: dict, step: int, generator: dict, discriminator: dict | None,
                    optimizers: dict, rng: dict, latent_shape, arch: dict,
                    extra: dict | None = None) -> dict:
    """The checkpoint dict of the contract above (state dicts already on the CPU)."""
    from diagnose.core.atomic import sanitize_json

    # The config is reduced to plain JSON types so torch.load(weights_only=True) accepts it.
    ckpt = {"format": FORMAT, "config": sanitize_json(config), "step": int(step),
            "latent_shape": list(latent_shape) if latent_shape else None,
            "generator": generator, "discriminator": discriminator,
            "optimizers": optimizers, "rng": rng, "arch": arch}
    if extra:
        ckpt.update(extra)
    return ckpt


def is_checkpoint(obj: Any) -> bool:
    """True for a dict that says it is a gan-diagnose checkpoint (of any format version)."""
    return isinstance(obj, dict) and "format" in obj


def checkpoint_config(ckpt: dict, where: str) -> dict:
    """The checkpoint's config with keys of the wrong type dropped (readers can trust types)."""
    from diagnose.runs.reader import clean_config

    config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    return clean_config(config, where)[0] if config else {}


class ConfigView:
    """What check, the discriminator probe and the run verdict read from a run's or a checkpoint's
    config, in one place: the dataset it trained on, the range of that data, and how real and fake
    batches met D. Missing or wrongly typed entries read as empty or None."""

    def __init__(self, config: dict | None):
        self.config = config if isinstance(config, dict) else {}

    @property
    def dataset(self) -> dict:
        """The recorded dataset description ({} when the config records none, or only a name)."""
        ds = self.config.get("dataset")
        return ds if isinstance(ds, dict) else {}

    @property
    def dataset_name(self) -> str | None:
        """The recorded dataset's name: ``{"name": ...}`` or a bare name."""
        ds = self.config.get("dataset")
        name = ds.get("name") if isinstance(ds, dict) else ds
        return str(name) if name else None

    @property
    def value_range(self) -> tuple[float, float] | None:
        """The range the real data was trained in, or None when not recorded."""
        vr = self.dataset.get("value_range")
        return tuple(float(v) for v in vr) if vr else None

    @property
    def joint_batch(self) -> bool:
        """Whether real and fake went through D as one batch (the trainers record it)."""
        data = self.config.get("data")
        return bool(isinstance(data, dict) and data.get("joint_batch"))
