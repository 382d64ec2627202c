"""The package's layers (docs/concepts.md, "How the code is laid out") hold: every import of
an awsroles module, lazy and type-only ones included, goes to its own layer or one below it,
and no modules import each other in a circle."""

from __future__ import annotations

import ast
import os
from typing import Dict, List, Set

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "awsroles")

#: From the ground up. A module's layer is the first prefix that names it.
LAYERS = (
    (
        "awsroles._record",
        "awsroles._log",
        "awsroles._files",
        "awsroles._fork",
        "awsroles.errors",
        "awsroles.credentials",
        "awsroles.clock",
        "awsroles.timestamps",
        "awsroles._untrusted",
        "awsroles._version",
    ),
    ("awsroles.config",),
    ("awsroles.cache", "awsroles.transport"),
    ("awsroles.protocols",),
    ("awsroles.sts", "awsroles.refresh"),
    ("awsroles.context",),
    ("awsroles.providers",),
    ("awsroles.resolver",),
    ("awsroles.api", "awsroles.integrations", "awsroles.aio"),
    ("awsroles.testing",),
    ("awsroles.cli",),
)
#: The public face loads everything on first use, and everything may ask it for its version.
_FACE = ("awsroles", "awsroles.__init__", "awsroles.__main__")


def _layer(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/concepts.md)")


def _modules() -> Dict[str, str]:
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[module.removesuffix(".__init__")] = path
    return found


def _imports(module: str, path: str) -> Set[str]:
    """Every awsroles module ``path`` imports, anywhere in the file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("awsroles"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("awsroles"):
                continue
            for alias in node.names:  # ``from . import x`` may name a module
                out.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
    return out


MODULES = _modules()
GRAPH = {m: {t for t in _imports(m, p) if t in MODULES and t != m} for m, p in MODULES.items()}


def test_every_import_goes_to_the_same_layer_or_below():
    upward: List[str] = []
    for module, targets in GRAPH.items():
        if module in _FACE:
            continue
        for target in targets:
            if target not in _FACE and _layer(target) > _layer(module):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that go up a layer:\n" + "\n".join(sorted(upward))


def test_no_modules_import_each_other_in_a_circle():
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    circles: List[List[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node] - set(_FACE):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in GRAPH:
        if module not in index and module not in _FACE:
            visit(module)
    assert not circles, f"modules that import each other: {circles}"


def test_the_cache_does_not_read_sts_responses():
    """The STS wire format owns STS responses: nothing in the cache package imports sts."""
    offending = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if m.startswith("awsroles.cache")
        for t in targets
        if t.startswith("awsroles.sts")
    ]
    assert not offending
