"""Load a generator from any file a user may have, in order of trust (the README's `check` paragraph).

1. a trainers checkpoint (dict with ``format`` "gan-diagnose/1"), rebuilt with ``builder(config)``;
2. a TorchScript archive (``torch.jit.load``) or an exported program (``torch.export.load``, .pt2);
3. a plain state dict plus ``arch="module_or_file.py:ClassName"`` and ``arch_kwargs``;
4. a whole pickled module, only with ``trust_pickle=True`` (unpickling runs code from the file).

Everything else is read with ``torch.load(weights_only=True)``, which never runs code. Each wrong
input (missing, text, random bytes, truncated, a discriminator, a pickle needing code, a shape
mismatch, an arch that cannot be imported) raises one clear UserError.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Callable

import torch

from diagnose.generators import safety
from diagnose.generators.arch import import_arch
from diagnose.core.errors import UserError
from diagnose.generators.loaded import LoadedGenerator, OutputInfo, read_output
from diagnose.runs.checkpoint import FORMAT, WeightsReadError, checkpoint_config, is_checkpoint, read_weights

#: Keys under which checkpoints of common training scripts keep the generator's state dict.
GENERATOR_KEYS = ("generator", "netG", "G", "gen", "g", "generator_state_dict", "g_state_dict",
                  "G_state_dict", "state_dict", "model_state_dict", "model", "g_ema", "ema")
#: Key fragments that mark a discriminator's weights.
DISCRIMINATOR_HINTS = ("discriminator", "netd", "critic", "disc")
#: Module attributes that state the latent size, in the order they are trusted.
LATENT_ATTRS = ("latent_shape", "latent_dim", "nz", "z_dim", "latent_size", "noise_dim")

__all__ = ["load_generator", "wrap_generator", "LoadedGenerator", "OutputInfo", "read_output",
           "infer_latent_shape", "import_arch"]


def load_generator(path, *, arch: str | None = None, arch_kwargs: dict | str | None = None,
                   latent_dim: int | None = None, latent_shape=None, trust_pickle: bool = False,
                   device: str = "cpu", builder: Callable[[dict], torch.nn.Module] | None = None
                   ) -> LoadedGenerator:
    """Load the generator in ``path`` and read its latent and output format.

    arch:         "file.py:Class" or "package.module:Class" for a plain state dict
    arch_kwargs:  constructor keyword arguments (dict or JSON text)
    latent_dim:   override of the latent size
    latent_shape: "vector", "conv" or an explicit tuple, overriding what is inferred
    trust_pickle: trust code-bearing files (the CLI's --trust-code): unpickle a whole pickled
                  module, run TorchScript/exported operators outside tensor maths; never the default
    builder:      config -> nn.Module for trainers checkpoints (default: the installed builder,
                  see diagnose.generators.builders)
    A ready nn.Module may be passed as ``path`` (then it is wrapped as is).
    """
    if isinstance(path, torch.nn.Module):
        return wrap_generator(path, latent_dim=latent_dim, latent_shape=latent_shape, device=device)
    p = Path(path)
    if not p.exists():
        raise UserError(f"no such file: {p}")
    if p.is_dir():
        raise UserError(f"{p} is a directory; pass a checkpoint file (e.g. {p}/checkpoints/step_*.pt)")
    kind = _sniff(p)
    ckpt_shape, config, form, fixed_batch = None, None, None, None
    if kind == "torchscript":
        safety.check_archive_source(p, trusted=trust_pickle)     # __setstate__ runs while loading
        module, form = _load_torchscript(p, device), "torchscript"
        safety.check_torchscript(module, p, trusted=trust_pickle)
    elif kind == "exported":
        module, fixed_batch, ckpt_shape = _load_exported(p, device, trusted=trust_pickle)
        form = "exported-program"
    else:
        obj = _torch_load(p, trust_pickle, arch=arch)
        module, form, config, ckpt_shape = _from_object(obj, p, arch, arch_kwargs, builder)
    if isinstance(module, torch.nn.Module) and form != "torchscript":
        module = module.to(device)
    shape, source = infer_latent_shape(module, checkpoint_shape=ckpt_shape, latent_dim=latent_dim,
                                       latent_shape=latent_shape)
    return LoadedGenerator(module, shape, form=form, config=config, device=device,
                           latent_source=source, fixed_batch=fixed_batch, path=str(p))


def wrap_generator(module: torch.nn.Module, *, latent_dim: int | None = None, latent_shape=None,
                   device: str = "cpu", form: str = "module", config: dict | None = None
                   ) -> LoadedGenerator:
    """A LoadedGenerator around an in-memory module (validation suites, user code); ``config``:
    the run's config (its dataset and latent_shape are used when recorded)."""
    module = module.to(device)
    ckpt_shape = (config or {}).get("latent_shape") if latent_shape is None else None
    shape, source = infer_latent_shape(module, checkpoint_shape=ckpt_shape, latent_dim=latent_dim,
                                       latent_shape=latent_shape)
    return LoadedGenerator(module, shape, form=form, device=device, latent_source=source,
                           config=config)


# ---------------------------------------------------------------------------- reading files
def _sniff(p: Path) -> str:
    """"torchscript", "exported", "zip" (torch.save) or "legacy" (old pickle); UserError otherwise."""
    with open(p, "rb") as f:
        head = f.read(512)
    if not head:
        raise UserError(f"{p} is empty")
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(p) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise UserError(f"{p} is a truncated or corrupt archive ({e}); was it fully copied?") from None
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("archive_format") or "serialized_exported_program" in n
               or n.split("/", 1)[-1].startswith("models/") for n in names):
            return "exported"
        return "zip"
    if head[:1] == b"\x80":  # pickle protocol marker: the legacy torch.save format
        return "legacy"
    text = sum(32 <= b < 127 or b in (9, 10, 13) for b in head) / len(head)
    what = "a text file" if text > 0.95 else "not a PyTorch file (unrecognised bytes)"
    raise UserError(f"{p} is {what}, not a checkpoint: expected a torch.save file, a TorchScript "
                    "archive or an exported .pt2 program")


def _torch_load(p: Path, trust_pickle: bool, arch: str | None = None) -> Any:
    """torch.load with weights_only=True; code-needing pickles only when trusted (then a class
    the pickle names in ``__main__``, i.e. the training script, is looked up in ``arch``)."""
    try:
        return read_weights(p)
    except WeightsReadError as e:
        if e.truncated:
            raise UserError(f"cannot read {p}: the file ends early (truncated)") from None
        if not e.needs_code:
            raise UserError(f"cannot read {p}: truncated or not a PyTorch checkpoint ({e.cause})") from None
        msg = e.raw
    if not trust_pickle:
        import re

        named = re.search(r"GLOBAL ([\w.]+)", msg)
        what = f"it names {named.group(1)}" if named else "e.g. a whole pickled module"
        raise UserError(f"{p} is a pickle that needs code to load ({what}); "
                        "loading it would run code from the file: pass --trust-pickle only if the "
                        "file is trusted, or save a state dict and pass --arch")
    names_main = "GLOBAL __main__." in msg or "__main__." in msg
    kw = {}
    if names_main and arch:
        from diagnose.generators.arch import definitions_module, main_remapping_pickle

        kw["pickle_module"] = main_remapping_pickle(definitions_module(arch))
    elif names_main:
        import re

        cls = (re.search(r"__main__\.(\w+)", msg) or [None, "Class"])[1]
        raise UserError(f"{p} is a whole pickled model whose class {cls} was defined in the "
                        f"training script itself (its __main__): pass --arch train.py:{cls} "
                        "(the script that defines it; only its definitions run) with "
                        "--trust-pickle, or save generator.state_dict() instead")
    try:
        return torch.load(p, map_location="cpu", weights_only=False, **kw)
    except Exception as e:  # the trusted pickle names code we cannot import
        raise UserError(f"cannot unpickle {p} even with --trust-pickle: {type(e).__name__}: "
                        f"{' '.join(str(e).split())[:200]} (is the module that defines the class "
                        "importable?)") from None


def _load_torchscript(p: Path, device: str):
    import warnings

    try:
        with warnings.catch_warnings():  # torch deprecates TorchScript; users still have such files
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(p), map_location=device)
    except Exception as e:
        raise UserError(f"cannot load TorchScript archive {p}: {' '.join(str(e).split())[:200]}") from None


def _load_exported(p: Path, device: str, trusted: bool = False):
    """An exported program: its module, a static batch size if traced with one, its latent shape."""
    safety.check_pt2_archive(p, trusted=trusted)    # pickled members would run code while loading
    try:
        ep = torch.export.load(str(p))
    except Exception as e:
        raise UserError(f"cannot load exported program {p}: {' '.join(str(e).split())[:200]}") from None
    safety.check_exported(ep, p, trusted=trusted)     # tensor maths only, before anything runs
    shapes = []
    user_inputs = set(getattr(ep.graph_signature, "user_inputs", []) or [])
    for node in ep.graph.nodes:
        if node.op == "placeholder" and (not user_inputs or node.name in user_inputs):
            val = node.meta.get("val")
            if val is not None and hasattr(val, "shape"):
                shapes.append(tuple(val.shape))
    if len(shapes) != 1:
        raise UserError(f"exported program {p} takes {len(shapes)} inputs; a generator takes one latent")
    shape = shapes[0]
    static = [isinstance(s, int) for s in shape]
    if not all(static[1:]):
        raise UserError(f"exported program {p} has a dynamic latent shape {shape}; pass --latent-shape")
    fixed = int(shape[0]) if static[0] else None
    module = ep.module()
    try:
        module = module.to(device)
    except Exception:  # some exported graphs cannot move; they run where they were traced
        pass
    return module, fixed, tuple(int(s) for s in shape[1:])


# ---------------------------------------------------------------------------- objects in files
def _from_object(obj, p: Path, arch, arch_kwargs, builder):
    """(module, form, config, checkpoint latent shape) for what torch.load returned."""
    if isinstance(obj, torch.nn.Module):
        return obj, "pickled-module", None, None
    if torch.is_tensor(obj):
        raise UserError(f"{p} holds a single tensor of shape {tuple(obj.shape)}, not a generator")
    if not isinstance(obj, dict):
        raise UserError(f"{p} holds a {type(obj).__name__}, not a generator checkpoint")
    if is_checkpoint(obj):
        if obj["format"] != FORMAT:
            raise UserError(f"{p} has checkpoint format {obj['format']!r}; this version reads {FORMAT!r}")
        return _from_trainers(obj, p, builder, arch, arch_kwargs)
    state, key = _find_state_dict(obj)
    if state is None:
        keys = ", ".join(map(str, list(obj)[:8]))
        if any(h in str(k).lower() for k in obj for h in DISCRIMINATOR_HINTS):
            raise UserError(f"{p} looks like a discriminator checkpoint (keys: {keys}); pass the "
                            "generator's checkpoint")
        raise UserError(f"{p} holds a dict with no generator weights (keys: {keys})")
    if _looks_like_discriminator(state, key):
        raise UserError(f"{p} looks like a discriminator's weights (parameter names such as "
                        f"{next(iter(state))!r}); pass the generator's checkpoint")
    if not arch:
        raise UserError(f"{p} is a plain state dict: pass --arch module.py:ClassName "
                        "(and --arch-kwargs JSON if its constructor needs arguments)")
    module = _build_arch(arch, arch_kwargs)
    _load_state(module, state, p, arch)
    return module, "state-dict", None, obj.get("latent_shape") if key else None


def _from_trainers(ckpt: dict, p: Path, builder, arch=None, arch_kwargs=None):
    """A gan-diagnose checkpoint (trainers or Monitor): G rebuilt from --arch when given, else from
    the architecture Monitor recorded, else from the trainers config."""
    if ckpt.get("generator") is None:
        raise UserError(f"{p} has no generator weights (a discriminator-only checkpoint?)")
    config = checkpoint_config(ckpt, f"{p}'s config")
    record = (ckpt.get("arch") or {}).get("generator")
    if arch:
        if arch_kwargs is None and record and record.get("kwargs") is not None \
                and arch.rsplit(":", 1)[-1] == record.get("qualname"):
            arch_kwargs = record["kwargs"]       # the same class Monitor saw: its arguments
        module, how = _build_arch(arch, arch_kwargs), arch
    elif record and not config.get("generator"):     # a user's loop, through Monitor
        from diagnose.generators.arch import rebuild

        module, how = rebuild(record), "the architecture recorded by Monitor"
    else:
        try:
            module, how = _build_trainers(config, p, builder), "its config"
        except UserError:
            if config.get("generator"):
                raise
            raise UserError(f"{p} was written by Monitor without a record of the generator's class "
                            "(an older version, or no generator passed to snapshot): pass --arch "
                            "file.py:Class [--arch-kwargs JSON]") from None
    _load_state(module, ckpt["generator"], p, how)
    from diagnose.runs import valid_latent_shape

    return module, "trainers-checkpoint" if how == "its config" else "monitor-checkpoint", \
        config, valid_latent_shape(ckpt.get("latent_shape"))


def _build_trainers(config: dict, p: Path, builder):
    if builder is None:
        from diagnose.generators.builders import installed_builder

        builder = installed_builder("generator")
        if builder is None:
            raise UserError(f"{p} is a trainers checkpoint but no package that rebuilds its models "
                            "is installed (install gan-diagnose with its trainers, or pass --arch)")
    try:
        return builder(config)
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"cannot rebuild the generator of {p} from its config: "
                        f"{type(e).__name__}: {' '.join(str(e).split())[:200]}") from None


def load_discriminator(path, config: dict | None, d_builder=None) -> torch.nn.Module | None:
    """The discriminator saved in a gan-diagnose checkpoint, rebuilt with ``d_builder(config)``
    (default: trainers' builder, when the config describes D) or from Monitor's record; None when
    the file has none or it cannot be rebuilt (the probe is extra evidence, never a reason to
    fail a check). Read with weights_only."""
    try:
        ck = read_weights(Path(path))
    except UserError:
        return None
    if not isinstance(ck, dict) or not isinstance(ck.get("discriminator"), dict):
        return None
    record = (ck.get("arch") or {}).get("discriminator")
    if d_builder is None and config and config.get("discriminator"):
        from diagnose.generators.builders import installed_builder

        d_builder = installed_builder("discriminator")
    try:
        if config and config.get("discriminator") and d_builder is not None:
            D = d_builder(config)
        elif record:
            from diagnose.generators.arch import rebuild

            D = rebuild(record, "discriminator")
        else:
            return None
        D.load_state_dict(_strip_prefixes(ck["discriminator"]))
    except (UserError, RuntimeError, TypeError, ValueError, KeyError, AttributeError):
        return None
    return D


def _is_state_dict(d) -> bool:
    return isinstance(d, dict) and bool(d) and all(torch.is_tensor(v) for v in d.values())


def _find_state_dict(obj: dict):
    """(state dict, key it was under or None) inside a checkpoint dict, or (None, None)."""
    if _is_state_dict(obj):
        return obj, None
    for k in GENERATOR_KEYS:
        v = obj.get(k)
        if isinstance(v, torch.nn.Module):
            v = v.state_dict()
        if _is_state_dict(v):
            return v, k
    return None, None


def _looks_like_discriminator(state: dict, key) -> bool:
    names = " ".join(state).lower()
    return key is None and any(h in names.split(".")[0] or names.startswith(h) for h in DISCRIMINATOR_HINTS)


def _strip_prefixes(state: dict) -> dict:
    """Drop DataParallel's "module." and torch.compile's "_orig_mod." prefixes."""
    out = {}
    for k, v in state.items():
        for pre in ("module.", "_orig_mod."):
            while k.startswith(pre):
                k = k[len(pre):]
        out[k] = v
    return out


def _load_state(module: torch.nn.Module, state: dict, p: Path, arch: str) -> None:
    try:
        module.load_state_dict(_strip_prefixes(state), strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = "; ".join(lines[1:3]) if len(lines) > 1 else lines[0] if lines else ""
        raise UserError(f"the weights in {p} do not fit {arch}: {detail[:300]}") from None


def _build_arch(arch: str, arch_kwargs) -> torch.nn.Module:
    from diagnose.generators.arch import build_arch

    return build_arch(arch, arch_kwargs)


# ---------------------------------------------------------------------------- latent shape
def infer_latent_shape(module, *, checkpoint_shape=None, latent_dim=None, latent_shape=None):
    """(latent shape, where it came from): overrides, checkpoint, module attribute, first layer."""
    if latent_shape is not None and not isinstance(latent_shape, str):
        return tuple(int(s) for s in latent_shape), "--latent-shape"
    if latent_shape not in (None, "vector", "conv"):
        raise UserError(f"--latent-shape {latent_shape!r}: use vector, conv or an explicit shape")
    found, source = _found_shape(module, checkpoint_shape)
    if latent_dim is not None:
        z = int(latent_dim)
        if z <= 0:
            raise UserError(f"--latent-dim must be positive, got {latent_dim}")
        conv = latent_shape == "conv" or (latent_shape is None and found is not None and len(found) == 3)
        return ((z, 1, 1) if conv else (z,)), "--latent-dim"
    if found is None:
        raise UserError("cannot tell the generator's latent size (no latent_shape/latent_dim "
                        "attribute, first layer not Linear/ConvTranspose2d): pass --latent-dim N "
                        "and --latent-shape vector|conv")
    if latent_shape == "vector":
        return (int(found[0]),), f"{source}, --latent-shape vector"
    if latent_shape == "conv":
        return (int(found[0]), 1, 1), f"{source}, --latent-shape conv"
    return tuple(int(s) for s in found), source


def _found_shape(module, checkpoint_shape):
    if checkpoint_shape:
        return tuple(int(s) for s in checkpoint_shape), "checkpoint"
    for attr in LATENT_ATTRS:
        v = getattr(module, attr, None)
        if isinstance(v, (tuple, list, torch.Size)) and v and all(isinstance(s, int) for s in v):
            return tuple(v), f"attribute {attr}"
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return (v,), f"attribute {attr}"
    return _first_layer_shape(module)


def _first_layer_shape(module):
    """Latent shape from the first parameterised layer (eager or TorchScript modules)."""
    try:
        mods = list(module.modules())
    except Exception:
        return None, ""
    for m in mods:
        kind = type(m).__name__ if not isinstance(m, torch.jit.ScriptModule) else getattr(m, "original_name", "")
        w = getattr(m, "weight", None) if kind in ("Linear", "ConvTranspose2d", "Conv2d", "Embedding") else None
        if not torch.is_tensor(w) or w.dim() < 2:
            continue
        if kind == "Linear":
            return (int(w.shape[1]),), "first layer (Linear)"
        if kind == "ConvTranspose2d":
            return (int(w.shape[0]), 1, 1), "first layer (ConvTranspose2d)"
        if kind == "Conv2d":
            # A generator that starts with a Conv2d reads a small latent map; 4x4 is the common
            # size (DCGAN-style); anything else needs --latent-shape.
            return (int(w.shape[1]), 4, 4), "first layer (Conv2d, assumed 4x4 map)"
        return None, ""
    return None, ""
