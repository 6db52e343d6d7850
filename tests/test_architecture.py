"""The arrows between packages point one way (STYLE.md, "Layout and flow").

An AST scan of ``src/neuroplast`` (imports inside functions and under ``TYPE_CHECKING``
included) checks that inference, the runtime, never imports compression, which only writes
artifacts; and that no package imports another package's ``_private`` module: a name
another package needs is made public (a public module or a re-export) instead; and that
the packages import each other without cycles.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import neuroplast

SRC = Path(neuroplast.__file__).parent

#: Root-level private helpers every package may use.
ROOT_HELPERS = frozenset(
    {
        "neuroplast._lazy",  # lazy exports of every package __init__
        "neuroplast._version",
        "neuroplast._pixels",
        "neuroplast._output_paths",
    }
)
#: (importing module, private module) pairs allowed for a stated reason.
EXCEPTIONS = {
    # continual.api names the Engine's ModelManager as a type only (TYPE_CHECKING); the
    # manager is the Engine's collaborator for version registration and owned by that work.
    ("neuroplast.continual.api", "neuroplast._model_manager"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = SRC.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports() -> Iterator[tuple[str, str]]:
    """(importing module, imported module) for every neuroplast import in the tree."""
    for path in sorted(SRC.rglob("*.py")):
        name = _module_name(path)
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                # `from pkg import mod` imports a module too
                targets = [module] + [
                    f"{module}.{alias.name}"
                    for alias in node.names
                    if _is_module(f"{module}.{alias.name}")
                ]
            else:
                continue
            for target in targets:
                if target == "neuroplast" or target.startswith("neuroplast."):
                    yield name, target


def _top_package(module: str, *, is_package: bool = False) -> str:
    """``neuroplast.<package>`` for a module inside a subpackage, ``neuroplast`` for a
    root-level module."""
    parts = module.split(".")
    if len(parts) > 2 or (is_package and len(parts) == 2):
        return ".".join(parts[:2])
    return "neuroplast"


def _private_module(target: str) -> str | None:
    """The first ``_private`` module on ``target``'s path, if any."""
    parts = target.split(".")
    for index in range(1, len(parts)):
        if parts[index].startswith("_") and not parts[index].startswith("__"):
            return ".".join(parts[: index + 1])
    return None


def _is_package(module: str) -> bool:
    return (SRC.parent.joinpath(*module.split(".")) / "__init__.py").is_file()


def test_the_scan_sees_imports() -> None:
    pairs = set(_imports())
    assert ("neuroplast.compression.techniques.static", "neuroplast.inference.qstate") in pairs
    assert ("neuroplast.inference", "neuroplast._lazy") in pairs


def test_inference_never_imports_compression() -> None:
    offending = sorted(
        f"{source} imports {target}"
        for source, target in _imports()
        if source.split(".")[:2] == ["neuroplast", "inference"]
        and target.split(".")[:2] == ["neuroplast", "compression"]
    )
    assert not offending, (
        "inference is the runtime and compression writes artifacts; move what inference "
        "needs into inference/:\n" + "\n".join(offending)
    )


def test_no_package_imports_another_packages_private_module() -> None:
    offending = set()
    for source, target in _imports():
        private = _private_module(target)
        if private is None or private in ROOT_HELPERS or (source, private) in EXCEPTIONS:
            continue
        owner = _top_package(private)
        if _top_package(source, is_package=_is_package(source)) != owner:
            offending.add(f"{source} imports {private}")
    assert not offending, (
        "make the name public in its package (a public module or a re-export) instead:\n"
        + "\n".join(sorted(offending))
    )


def test_every_exception_is_still_needed() -> None:
    pairs = {(source, _private_module(target)) for source, target in _imports()}
    assert not EXCEPTIONS - pairs, f"stale exceptions: {sorted(EXCEPTIONS - pairs)}"


def test_the_packages_import_each_other_without_cycles() -> None:
    """Subpackages form layers (data -> inference -> workflows -> cli, registry beside):
    a cycle would mean neither side can be understood, tested or loaded without the other."""
    graph: dict[str, set[str]] = {}
    for source, target in _imports():
        mine = _top_package(source, is_package=_is_package(source))
        theirs = _top_package(target, is_package=_is_package(target))
        if "neuroplast" not in (mine, theirs) and mine != theirs:
            graph.setdefault(mine, set()).add(theirs)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        pytest.fail(f"the packages import each other in a cycle: {' -> '.join(e.args[1])}")
