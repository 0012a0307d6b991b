"""The import graph of the ``img2img`` package, read from the source (every ``import`` statement,
module-level or inside functions), for tests of the code's structure and of ``dvc.yaml``'s deps."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.kedro_project import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "src"
PACKAGE = "img2img"


@cache
def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (packages by their ``__init__``)."""
    files = {}
    for path in sorted((SOURCE / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module ``name`` refers to (an attribute import resolves to its module)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports_of(module: str) -> frozenset[str]:
    """The package modules ``module`` names in its imports (``from a import b``: ``a.b`` if it is a
    module, else ``a``). Python also runs the ``__init__`` of every parent package first; that
    implicit edge is left out: re-exported names are reached through the explicit import of the
    package that re-exports them."""
    modules = module_files()
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names
            ]
        for name in names:
            if name.split(".")[0] != PACKAGE:
                continue
            target = _resolve(name, modules)
            if target and target != module:
                found.add(target)
    found.discard(module)
    return frozenset(found)


def closure(*roots: str) -> set[str]:
    """``roots`` and every package module they import, directly or not."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        module = stack.pop()
        if module not in seen:
            seen.add(module)
            stack.extend(imports_of(module))
    return seen


def cycles() -> list[list[str]]:
    """Import cycles between modules (each as a list of module names), none when acyclic."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(imports_of(module)):
            if state.get(target) == "open":
                found.append(
                    [*path[path.index(target) :], target] if target in path else [module, target]
                )
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(module_files()):
        if module not in state:
            visit(module, [module])
    return found
