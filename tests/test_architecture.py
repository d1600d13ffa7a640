"""The layer map of docs/ARCHITECTURE.md, checked on the source: every import (module-level or
inside a function) points down the layers or stays in its own room, and no modules import each
other in a circle. Read from the files with ``ast``; nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("diagnose", "trainers", "dashboards")

#: rooms from the bottom up; a module may import its own room and any room below it
LAYERS = [
    "diagnose.core",
    "diagnose.runs",
    "diagnose.data",
    "diagnose.features",
    "diagnose.generators",
    "diagnose.metrics",
    "diagnose.dynamics",
    "diagnose.analysis",
    "diagnose.monitor",
    "diagnose.integrations",
    "trainers",
    "dashboards",
    "diagnose.commands",
    "diagnose.api",
    "diagnose.cli",
    "diagnose",            # the package itself: __init__ (public names) and __main__
]


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = f
    return out


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports (resolved to the longest existing module name)."""
    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for n in names:
                r = resolve(n)
                if r and r != m:
                    found.add(r)
        edges[m] = found
    return edges


def room(module: str) -> str:
    best = max((r for r in LAYERS if module == r or module.startswith(r + ".")), key=len)
    return best


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def back_arrows(edges: dict[str, set[str]]) -> list[str]:
    rank = {r: i for i, r in enumerate(LAYERS)}
    bad = []
    for m, targets in sorted(edges.items()):
        for t in sorted(targets):
            a, b = room(m), room(t)
            if a != b and rank[b] > rank[a]:
                bad.append(f"{m} ({a}) -> {t} ({b})")
    return bad


def test_every_module_has_a_room():
    for m in modules():
        assert room(m) in LAYERS, m


def test_imports_point_down_the_layers():
    assert back_arrows(imports(modules())) == []


def test_no_import_circles():
    assert circles(imports(modules())) == []


def test_the_checker_sees_a_back_arrow_and_a_circle():
    """The two checks above can fail: a made-up graph with one arrow up and one circle."""
    edges = {"diagnose.core.errors": {"diagnose.analysis.judge"},
             "diagnose.analysis.judge": {"diagnose.analysis.pipeline"},
             "diagnose.analysis.pipeline": {"diagnose.analysis.judge"}}
    assert back_arrows(edges) == ["diagnose.core.errors (diagnose.core) -> diagnose.analysis.judge "
                                  "(diagnose.analysis)"]
    assert circles(edges) == [["diagnose.analysis.judge", "diagnose.analysis.pipeline"]]


if __name__ == "__main__":      # the import graph in numbers (what docs/ARCHITECTURE.md reports)
    import collections

    mods = modules()
    edges = imports(mods)
    per_room = collections.Counter(room(m) for m in mods)
    for r in LAYERS:
        print(f"{r:24s} {per_room.get(r, 0):3d} modules")
    print(f"modules: {len(mods)}; arrows: {sum(map(len, edges.values()))}")
    print(f"back arrows: {len(back_arrows(edges))}")
    for b in back_arrows(edges):
        print("  ", b)
    print(f"import circles: {len(circles(edges))}")
    for c in circles(edges):
        print("  ", " <-> ".join(c))
