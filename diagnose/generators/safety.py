"""Model files run tensor maths only: every operator of a TorchScript archive or an exported
program is checked against an allow-list before any of it runs.

A TorchScript archive and a ``torch.export`` program carry code: a graph of operators that
``forward`` executes. Most operators are tensor maths, but a few reach outside the process:
``aten::from_file`` maps a file (``shared=True`` writes to it), ``aten::save`` writes one,
``prim::rpc_*`` and the ``c10d`` namespace talk to other machines, ``prim::PythonOp`` calls back
into Python. The allow-list is derived from torch's own operator registry, so it follows the
installed torch instead of a hand list of names:

* an operator must be registered in a tensor-maths namespace (``aten``, ``prim``, ``prims``,
  ``quantized``, ...): anything else (``c10d``, ``profiler``, a custom library's namespace, an
  operator the registry does not know) is refused;
* no overload of it may take a file path (an argument named ``filename``/``path``/``file``);
* it must not be on :data:`DENIED`, the operators whose effect is outside tensor maths although
  their arguments look harmless (printing to stdout, threads and futures, remote calls, Python
  callbacks, unchecked indexed writes).

Graph nodes of TorchScript's own structure (``prim::If``, ``prim::Loop``, ``prim::Constant``,
``prim::GetAttr``...) are allowed; a call that inlining could not resolve (``prim::CallMethod`` on
a custom class) is refused, because its body is not in the graph to check.

Loading a TorchScript archive already runs one piece of code, ``__setstate__``, so an archive that
defines one is refused before ``torch.jit.load`` is called. Loading an exported program unpickles
its pickled weights and constants with ``weights_only=False``: every pickled member must read with
torch's weights-only unpickler before ``torch.export.load`` is called.

``trusted=True`` (the CLI's ``--trust-code``, alias ``--trust-pickle``) skips every check.
"""
from __future__ import annotations

import functools
import re
import zipfile

from diagnose.core.errors import UserError

#: Namespaces whose registered operators are tensor maths (the rest are refused).
TENSOR_NAMESPACES = ("aten", "prim", "prims", "quantized", "_quantized", "mkldnn", "mkldnn_prepacked",
                     "onednn", "prepacked", "mkl", "sparse", "quantization")
#: Argument names that make an operator touch the file system.
PATH_ARGUMENTS = ("filename", "path", "file", "fname", "filepath")
#: Operators refused although their arguments are harmless, with the reason said to the user.
DENIED = {
    "prim::Print": "prints to standard output",
    "aten::_print": "prints to standard output",
    "prim::PythonOp": "calls back into Python",
    "prim::IgnoredPythonOp": "calls back into Python",
    "prim::rpc_async": "makes a remote call",
    "prim::rpc_sync": "makes a remote call",
    "prim::rpc_remote": "makes a remote call",
    "prim::fork": "starts a thread",
    "aten::wait": "waits on a thread",
    "prim::awaitable": "starts deferred work",
    "prim::awaitable_nowait": "starts deferred work",
    "prim::awaitable_wait": "waits on deferred work",
    "prim::Enter": "enters a context manager",
    "prim::Exit": "exits a context manager",
    "prim::CallMethod": "calls a method whose code is not in the graph",
    "prim::CallFunction": "calls a function whose code is not in the graph",
    "prim::CreateObject": "creates a custom-class object",
    "aten::_unsafe_index_put": "writes through unchecked indices",
    "aten::_unsafe_masked_index_put_accumulate": "writes through unchecked indices",
    "aten::record_stream": "changes device stream bookkeeping",
}
#: Plain Python callables an exported program's graph may call (symbolic-shape arithmetic).
PYTHON_TARGET_MODULES = ("_operator", "operator", "math", "builtins")
#: Higher-order operators of torch.export whose subgraphs are checked like the main graph.
HIGHER_ORDER_ALLOWED = ("cond", "while_loop", "map_impl", "wrap_with_set_grad_enabled",
                        "wrap_with_autocast", "auto_functionalized", "auto_functionalized_v2",
                        "scan", "associative_scan")

TRUST_HINT = "pass --trust-code only if the file is trusted"


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, list]:
    """Operator name -> its registered schemas (every overload), from torch's registry."""
    import torch

    out: dict[str, list] = {}
    for s in torch._C._jit_get_all_schemas():
        out.setdefault(s.name, []).append(s)
    return out


@functools.lru_cache(maxsize=None)
def refusal(op: str) -> str | None:
    """Why operator ``op`` ("aten::conv2d") is refused, or None when it is pure tensor maths."""
    if op in DENIED:
        return DENIED[op]
    ns = op.split("::", 1)[0] if "::" in op else ""
    if ns not in TENSOR_NAMESPACES:
        return f"is outside the tensor-maths namespaces ({ns or 'no namespace'})"
    schemas = _registry().get(op)
    if not schemas:
        # prim:: node kinds without a schema are the graph's own structure (If, Loop, Constant,
        # GetAttr, ListConstruct, ...); an aten op torch does not know is unknown code.
        return None if ns == "prim" else "is not an operator this torch knows"
    for s in schemas:
        for a in s.arguments:
            if a.name in PATH_ARGUMENTS and "str" in str(a.type):
                return f"takes a file path ({a.name})"
    return None


def _refuse(path, op: str, why: str, where: str, n_other: int) -> UserError:
    more = f" (and {n_other} more refused operator{'s' if n_other > 1 else ''})" if n_other else ""
    return UserError(f"{path} runs operator {op}, which {why}, in {where}{more}: a model file may "
                     f"run tensor maths only; {TRUST_HINT}")


# ------------------------------------------------------------------------------- TorchScript
def check_archive_source(path, trusted: bool = False) -> None:
    """Refuse a TorchScript archive whose code defines ``__setstate__`` (it runs while loading)."""
    if trusted:
        return
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith(".py") and "/code/" in f"/{name}":
                    text = z.read(name).decode("utf-8", "replace")
                    if re.search(r"\bdef\s+__setstate__\s*\(", text):
                        raise UserError(f"{path} defines __setstate__ in {name}, code that runs "
                                        f"while the archive is loaded; {TRUST_HINT}")
    except (zipfile.BadZipFile, OSError):
        return   # the loader reports a corrupt archive in its own words


def _walk_block(block, seen: dict) -> None:
    for node in block.nodes():
        kind = node.kind()
        if kind not in seen:
            seen[kind] = None
        for b in node.blocks():
            _walk_block(b, seen)


def torchscript_ops(module) -> dict[str, str]:
    """Every operator kind in every method of ``module`` and its submodules -> where it was first seen.

    Methods are read through ``inlined_graph``, so calls between methods and submodules are
    replaced by the callee's operators.
    """
    found: dict[str, str] = {}
    for name, sub in module.named_modules():
        c = getattr(sub, "_c", None)
        if c is None:
            continue
        for meth in c._method_names():
            fn = c._get_method(meth)
            graph = getattr(fn, "inlined_graph", None) or fn.graph
            seen: dict = {}
            _walk_block(graph, seen)
            for kind in seen:
                found.setdefault(kind, f"{(name + '.') if name else ''}{meth}")
    return found


def check_torchscript(module, path, trusted: bool = False) -> None:
    """UserError naming the first refused operator of a loaded TorchScript module."""
    if trusted:
        return
    bad = [(op, where, why) for op, where in torchscript_ops(module).items()
           if (why := refusal(op)) is not None]
    if bad:
        op, where, why = bad[0]
        raise _refuse(path, op, why, where, len(bad) - 1)


# ---------------------------------------------------------------------------- exported programs
def _needs_code(data: bytes) -> str | None:
    """What a pickled member would import, when it cannot be read without running code."""
    import io
    import pickle

    import torch

    try:
        if data[:4] == b"PK\x03\x04":            # a torch.save archive inside the archive
            torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        else:                                    # a raw pickle stream
            from torch._weights_only_unpickler import Unpickler

            Unpickler(io.BytesIO(data), encoding="utf-8").load()
    except Exception as e:   # noqa: BLE001 - only a refused global matters here
        msg = str(e)
        if isinstance(e, pickle.UnpicklingError) or "Weights only load failed" in msg:
            m = (re.search(r"GLOBAL ([\w.]+)", msg)
                 or re.search(r"[Uu]nsupported (?:global|class)[:\s]+([\w.]+)", msg))
            if m:
                return m.group(1)
    return None


def check_pt2_archive(path, trusted: bool = False) -> None:
    """Refuse a .pt2 archive that ``torch.export.load`` would unpickle code from.

    ``torch.export.load`` reads pickled weights and constants with ``weights_only=False`` and
    opaque objects with ``pickle.loads``: a member that names a Python global would run code while
    the program is loaded, before any operator can be checked. Every pickled member must read
    with torch's weights-only unpickler; opaque-object members are refused outright.
    """
    if trusted:
        return
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return   # the loader reports a corrupt archive in its own words
    with z:
        for info in z.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if base.startswith("opaque_obj"):
                raise UserError(f"{path} holds a pickled Python object ({info.filename}) that "
                                f"loading would unpickle with code; {TRUST_HINT}")
            with z.open(info) as f:
                head = f.read(4)
            if head[:4] != b"PK\x03\x04" and head[:1] != b"\x80":
                continue
            named = _needs_code(z.read(info))
            if named:
                raise UserError(f"{path} member {info.filename} is a pickle that needs code to load "
                                f"(it names {named}), which loading the program would run; "
                                f"{TRUST_HINT}")


def _target_refusal(target) -> tuple[str, str | None]:
    """(name, why refused or None) of a call_function target of an exported graph."""
    import torch

    if isinstance(target, torch._ops.OpOverload):
        name = target._schema.name
        return name, refusal(name)
    if isinstance(target, torch._ops.HigherOrderOperator):
        name = f"higher_order.{target.name()}"
        ok = target.name() in HIGHER_ORDER_ALLOWED
        return name, None if ok else "is a higher-order operator outside the allowed control flow"
    if isinstance(target, torch._ops.OpOverloadPacket):
        name = target._qualified_op_name
        return name, refusal(name)
    mod = getattr(target, "__module__", None) or ""
    name = f"{mod}.{getattr(target, '__name__', repr(target))}"
    if mod in PYTHON_TARGET_MODULES:
        return name, None
    if mod.startswith("torch") and getattr(target, "__name__", "").startswith(("sym_", "_sym_")):
        return name, None
    return name, "is a Python function, not a tensor operator"


def exported_ops(ep) -> dict[str, tuple[str, str | None]]:
    """Every call target of an exported program (nested graphs of control flow included)."""
    found: dict[str, tuple[str, str | None]] = {}
    gm = ep.graph_module
    for mname, sub in gm.named_modules():
        graph = getattr(sub, "graph", None)
        if graph is None:
            continue
        for node in graph.nodes:
            if node.op == "call_function":
                name, why = _target_refusal(node.target)
                found.setdefault(name, (mname or "forward", why))
            elif node.op in ("call_method", "call_module"):
                found.setdefault(f"{node.op} {node.target}",
                                 (mname or "forward", "calls code that is not in the graph"))
    return found


def check_exported(ep, path, trusted: bool = False) -> None:
    """UserError naming the first refused operator of an exported program."""
    if trusted:
        return
    bad = [(op, where, why) for op, (where, why) in exported_ops(ep).items() if why is not None]
    if bad:
        op, where, why = bad[0]
        raise _refuse(path, op, why, where, len(bad) - 1)


def describe_policy() -> dict:
    """Counts behind the allow-list (for docs and tests): allowed and refused registered operators."""
    names = list(_registry())
    refused = {n: refusal(n) for n in names}
    return {"registered": len(names), "allowed": sum(v is None for v in refused.values()),
            "refused": sorted(n for n, v in refused.items() if v is not None)}

