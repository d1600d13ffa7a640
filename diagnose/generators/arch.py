"""Architectures by name: import the class behind ``--arch FILE.py:Class``, and record / rebuild
the class of a module a training loop hands to ``Monitor`` so its checkpoints load with no flag.

Importing a user's file runs its code. ``--arch FILE.py:Class`` imports FILE as a module (never as
``__main__``, so a ``if __name__ == "__main__":`` block does not run) with no command-line
arguments, and refuses, before running anything, a file that parses arguments or trains at
import (most training scripts do one or the other outside a main guard); if it still exits or
starts a backward pass while importing, that is one error line too.

A Monitor record names the class (module and qualified name, the file defining it) and the
constructor arguments found on the instance (``self.nz = nz``), checked by rebuilding the module
and comparing parameter names and shapes. A class defined in the training script itself
(``__main__``) is rebuilt from that file's definitions only: imports, classes, functions and
literal constants; its training loop never runs.
"""
from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from types import ModuleType

import torch

from diagnose.core.errors import UserError

#: Call names that mean "this file parses its command line" when called at import.
ARG_PARSING = ("parse_args", "parse_known_args", "parse_intermixed_args")
#: Method names that mean "this file trains" when called at import.
TRAINING_CALLS = ("backward",)
FIX = ("put the argument parsing and training under `if __name__ == \"__main__\":`, or move "
       "{cls} into a module of its own (e.g. models.py) and pass --arch models.py:{cls}")


class _TrainingAtImport(Exception):
    """Raised by the backward-pass guard while a user file is being imported."""


# ---------------------------------------------------------------------------- static scan
def _module_level(tree: ast.Module):
    """Statements that run at import: top level and inside top-level if/for/while/with/try
    blocks, but not function or class bodies and not an ``if __name__ == "__main__":`` block."""
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            todo.extend(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo.extend(getattr(node, field, []) or [])


def _is_main_guard(test) -> bool:
    text = ast.unparse(test).replace("'", '"').replace(" ", "")
    return text in ('__name__=="__main__"', '"__main__"==__name__')


def _calls(node) -> list[ast.Call]:
    """Calls in ``node`` outside nested function bodies and lambdas."""
    out, todo = [], [node]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) and n is not node:
            continue
        if isinstance(n, ast.Call):
            out.append(n)
        if isinstance(n, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            # only the header: the bodies are visited by _module_level as statements
            for f in ("test", "iter", "target", "items"):
                v = getattr(n, f, None)
                if v is not None:
                    todo.extend(v if isinstance(v, list) else [v])
            continue
        todo.extend(ast.iter_child_nodes(n))
    return out


def import_side_effects(source: str) -> list[tuple[str, int, str]]:
    """What a file does at import that a class lookup must not trigger: (kind, line, code) with
    kind "parses arguments" or "trains"."""
    tree = ast.parse(source)
    found = []
    for stmt in _module_level(tree):
        for call in _calls(stmt):
            name = call.func.attr if isinstance(call.func, ast.Attribute) else \
                call.func.id if isinstance(call.func, ast.Name) else ""
            kind = "parses its command-line arguments" if name in ARG_PARSING else \
                "trains" if name in TRAINING_CALLS else None
            if kind:
                found.append((kind, call.lineno, ast.unparse(call)[:60]))
    return found


# ---------------------------------------------------------------------------- guarded import
@contextlib.contextmanager
def _import_guard():
    """No command-line arguments of diagnose's own, and no backward pass, while a file imports."""
    argv, backward = sys.argv, torch.Tensor.backward

    def refuse(*a, **k):
        raise _TrainingAtImport()

    sys.argv = [argv[0] if argv else "arch"]
    torch.Tensor.backward = refuse
    try:
        yield
    finally:
        sys.argv, torch.Tensor.backward = argv, backward


def _exec_file(f: Path, cls_name: str, source: str | None = None) -> ModuleType:
    """Run ``f`` (or ``source``, its filtered text) as a module named after it, with its folder
    on sys.path so its sibling imports resolve; one error line for anything it raises."""
    name = f"_diagnose_arch_{f.stem}"
    mod = ModuleType(name)
    mod.__file__ = str(f)
    text = f.read_text() if source is None else source
    folder = str(f.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    sys.modules[name] = mod            # dataclasses and pickling look classes up here
    fix = FIX.format(cls=cls_name)
    try:
        with _import_guard():
            exec(compile(text, str(f), "exec"), mod.__dict__)
    except SystemExit:
        raise UserError(f"--arch: importing {f} exited (it parses its command line or calls "
                        f"exit at import): {fix}") from None
    except _TrainingAtImport:
        raise UserError(f"--arch: importing {f} started training (a backward pass at import): "
                        f"{fix}") from None
    except Exception as e:
        raise UserError(f"--arch: importing {f} failed: {type(e).__name__}: "
                        f"{' '.join(str(e).split())[:200]}") from None
    finally:
        if added:
            sys.path.remove(folder)
    return mod


def _load_file(f: Path, cls_name: str) -> ModuleType:
    if not f.is_file():
        raise UserError(f"--arch: no such file {f}")
    try:
        source = f.read_text()
        effects = import_side_effects(source)
    except (SyntaxError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"--arch: {f} is not readable Python ({e})") from None
    if effects:
        kind, line, code = effects[0]
        raise UserError(f"--arch: {f} {kind} when imported (line {line}: {code}), and diagnose "
                        f"imports it to find {cls_name}: {FIX.format(cls=cls_name)}")
    return _exec_file(f, cls_name)


def _class_in(mod, where: str, name: str):
    obj = mod
    for part in name.split("."):
        obj = getattr(obj, part, None)
    if obj is None:
        found = sorted(k for k, v in vars(mod).items()
                       if isinstance(v, type) and issubclass(v, torch.nn.Module) and not k.startswith("_"))
        raise UserError(f"--arch: {where} has no class {name!r} (it defines: {', '.join(found) or 'no modules'})")
    return obj


def import_arch(arch: str):
    """The class named by "file.py:Class" or "package.module:Class" (see the module doc)."""
    if ":" not in arch:
        raise UserError(f"--arch {arch!r} must look like module.py:ClassName")
    where, name = arch.rsplit(":", 1)
    if where.endswith(".py") or "/" in where or Path(where).is_file():
        return _class_in(_load_file(Path(where), name), where, name)
    try:
        with _import_guard():
            mod = importlib.import_module(where)
    except ImportError as e:
        raise UserError(f"--arch: cannot import module {where!r} ({e})") from None
    except (SystemExit, _TrainingAtImport):
        raise UserError(f"--arch: importing {where} exited or started training: "
                        f"{FIX.format(cls=name)}") from None
    return _class_in(mod, where, name)


def parse_kwargs(arch_kwargs) -> dict:
    """--arch-kwargs as a dict (JSON text or a dict)."""
    if isinstance(arch_kwargs, str):
        try:
            arch_kwargs = json.loads(arch_kwargs)
        except json.JSONDecodeError as e:
            raise UserError(f"--arch-kwargs is not valid JSON: {e}") from None
    if arch_kwargs is not None and not isinstance(arch_kwargs, dict):
        raise UserError("--arch-kwargs must be a JSON object, e.g. '{\"nz\": 100}'")
    return dict(arch_kwargs or {})


def construct(cls, kwargs: dict, what: str) -> torch.nn.Module:
    """``cls(**kwargs)``, which must be a torch.nn.Module class; one error line otherwise."""
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise UserError(f"{what} is not a torch.nn.Module class")
    try:
        return cls(**kwargs)
    except Exception as e:
        raise UserError(f"{what}(**{kwargs}) failed: {type(e).__name__}: {e}; pass --arch-kwargs "
                        "JSON with its constructor arguments") from None


def build_arch(arch: str, arch_kwargs=None) -> torch.nn.Module:
    """An instance of the --arch class built with --arch-kwargs."""
    return construct(import_arch(arch), parse_kwargs(arch_kwargs), f"--arch {arch}")


# ---------------------------------------------------------------------------- Monitor records
def _plain(v) -> bool:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return True
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    return False


def _shapes(module: torch.nn.Module) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def record_arch(module: torch.nn.Module | None) -> dict | None:
    """What rebuilds ``module``: class path, defining file, constructor arguments found on the
    instance, and whether a rebuild with them gave the same parameter names and shapes.
    None for no module; never raises (a training loop must not stop for this)."""
    if module is None:
        return None
    module = getattr(module, "_orig_mod", module)        # torch.compile wrapper
    module = getattr(module, "module", module) if type(module).__name__ in (
        "DataParallel", "DistributedDataParallel") else module
    cls = type(module)
    rec = {"module": cls.__module__, "qualname": cls.__qualname__, "file": None, "kwargs": None,
           "verified": False}
    try:
        rec["file"] = str(Path(inspect.getsourcefile(cls)).resolve())
    except (TypeError, OSError):
        pass
    try:
        kwargs, missing = {}, []
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            v = getattr(module, p.name, inspect.Parameter.empty)
            if v is not inspect.Parameter.empty and _plain(v):
                kwargs[p.name] = list(v) if isinstance(v, tuple) else v
            elif p.default is inspect.Parameter.empty:
                missing.append(p.name)
        if missing:
            rec["note"] = f"constructor arguments not found on the instance: {', '.join(missing)}"
            return rec
        rec["kwargs"] = kwargs
        # Rebuilding draws initial weights: keep the training loop's random stream untouched.
        with torch.random.fork_rng(devices=[]):
            rebuilt = cls(**kwargs)
        rec["verified"] = _shapes(rebuilt) == _shapes(module)
        if not rec["verified"]:
            rec["note"] = "a rebuild with the arguments found has other parameter shapes"
    except Exception as e:   # the user's class: any failure only means no automatic rebuild
        rec["note"] = f"cannot rebuild: {type(e).__name__}: {' '.join(str(e).split())[:120]}"
    return rec


def definitions_only(source: str) -> str:
    """The part of a script that defines things: imports, classes, functions, assignments of
    literal constants, and ``try`` blocks of imports. Everything else (argument parsing, data
    loading, the training loop, the main guard) is dropped."""
    tree = ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
            keep.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            try:
                ast.literal_eval(node.value)
                keep.append(node)
            except (ValueError, SyntaxError, TypeError):
                pass
        elif isinstance(node, ast.Try) and all(isinstance(n, (ast.Import, ast.ImportFrom))
                                               for n in node.body):
            keep.append(node)
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


def rebuild(rec: dict, what: str = "generator") -> torch.nn.Module:
    """An untrained instance of the class a Monitor record names (see record_arch)."""
    if not rec or rec.get("kwargs") is None:
        why = (rec or {}).get("note", "no architecture recorded")
        raise UserError(f"cannot rebuild the {what} from the checkpoint's record ({why}): pass "
                        "--arch file.py:Class [--arch-kwargs JSON]")
    modname, qual, f = rec.get("module"), rec.get("qualname", ""), rec.get("file")
    name = qual.split(".")[-1]
    cls = None
    if modname and modname != "__main__":
        try:
            with _import_guard():
                cls = _class_in(importlib.import_module(modname), modname, qual)
        except (ImportError, UserError, SystemExit, _TrainingAtImport):
            cls = None
    if cls is None:
        if not f:
            raise UserError(f"the {what} class {qual} was defined in an interactive session (a "
                            f"notebook) and has no file: put it in a .py file and pass --arch "
                            f"file.py:{name}")
        if not Path(f).is_file():
            raise UserError(f"the {what} class {modname}.{qual} recorded in the checkpoint is not "
                            f"importable here and its file {f} is gone: pass --arch file.py:{name}")
        p = Path(f)
        # the checkpoint names this file: say so, since its definitions run to rebuild the class
        print(f"rebuilding the {what} from {p} (recorded by Monitor; its definitions run, never "
              "its __main__ block)", file=sys.stderr)
        src = p.read_text() if modname != "__main__" else definitions_only(p.read_text())
        cls = _class_in(_exec_file(p, name, source=src), str(p), qual)
    return construct(cls, dict(rec["kwargs"]), f"{modname}.{qual}")


def definitions_module(arch: str) -> ModuleType:
    """The module behind ``arch`` ("file.py:Class" or "pkg.module:Class") for unpickling a whole
    module whose class was defined in a training script: unpickling needs the class, never its
    construction, so a file runs its definitions only (see definitions_only)."""
    where, _, name = arch.rpartition(":")
    if not where:
        raise UserError(f"--arch {arch!r} must look like module.py:ClassName")
    if where.endswith(".py") or "/" in where or Path(where).is_file():
        f = Path(where)
        if not f.is_file():
            raise UserError(f"--arch: no such file {f}")
        try:
            src = definitions_only(f.read_text())
        except (SyntaxError, UnicodeDecodeError, ValueError) as e:
            raise UserError(f"--arch: {f} is not readable Python ({e})") from None
        return _exec_file(f, name, source=src)
    try:
        with _import_guard():
            return importlib.import_module(where)
    except ImportError as e:
        raise UserError(f"--arch: cannot import module {where!r} ({e})") from None
    except (SystemExit, _TrainingAtImport):
        raise UserError(f"--arch: importing {where} exited or started training: "
                        f"{FIX.format(cls=name)}") from None


def main_remapping_pickle(module: ModuleType):
    """A ``pickle_module`` for torch.load whose Unpickler finds ``__main__``'s classes in
    ``module`` (a whole model pickled from a training script names its class __main__.Class)."""
    import pickle

    class Unpickler(pickle.Unpickler):
        def find_class(self, mod_name, name):
            if mod_name == "__main__":
                return getattr(module, name)
            return super().find_class(mod_name, name)

    ns = ModuleType("_diagnose_pickle")
    ns.__dict__.update({k: v for k, v in vars(pickle).items() if not k.startswith("__")})
    ns.Unpickler = Unpickler
    return ns
