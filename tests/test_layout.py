"""Rules about the test suite itself, checked on its source.

A fresh machine may lack Debian's data sets: every test that reaches one must go through
``tests/conftest.py`` (``load_debian_data``, ``require_debian_data`` or the ``debian_data``
marker), so that it skips with the end-of-run summary instead of failing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import DEBIAN_DATA

TESTS = Path(__file__).parent
SHARED = TESTS / "conftest.py"
GUARDS = ("load_debian_data", "require_debian_data", "debian_data")


def _inside_pytest_raises(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """A call inside ``with pytest.raises(...)`` expects the data to be missing or broken."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and ast.unparse(call.func) == "pytest.raises":
                    return True
    return False


def debian_data_misuse(source: str, filename: str) -> list[str]:
    """Where ``source`` loads a Debian data set without the shared guard."""
    tree = ast.parse(source, filename)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    guarded = any(
        isinstance(node, ast.Name | ast.Attribute) and ast.unparse(node).endswith(GUARDS)
        for node in ast.walk(tree)
    )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("load_builtin"):
            first = node.args[0] if node.args else None
            if (
                isinstance(first, ast.Constant)
                and first.value in DEBIAN_DATA
                and not _inside_pytest_raises(node, parents)
            ):
                found.append(f"{filename}:{node.lineno} calls load_builtin({first.value!r})")
        if isinstance(node, ast.Dict) and not guarded:  # a run config naming a Debian set
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "dataset"
                    and isinstance(value, ast.Constant)
                    and value.value in DEBIAN_DATA
                ):
                    found.append(f"{filename}:{node.lineno} configures {value.value!r} unguarded")
    return found


def test_no_test_module_reaches_debian_data_outside_the_shared_fixture() -> None:
    problems = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == SHARED:
            continue
        problems += debian_data_misuse(path.read_text(encoding="utf-8"), str(path))
    assert problems == [], "use tests.conftest.load_debian_data / require_debian_data:\n" + (
        "\n".join(problems)
    )


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ('load_builtin("fashion_mnist")', True),
        ('data.load_builtin("wordnet_glosses", limit=3)', True),
        ('load_builtin("digits")', False),
        ('with pytest.raises(DataError):\n    load_builtin("fashion_mnist")', False),
        ('load_debian_data("fashion_mnist")', False),
        ('CONFIG = {"data": {"dataset": "fashion_mnist"}}', True),
        ('require_debian_data("fashion_mnist")\nC = {"dataset": "fashion_mnist"}', False),
    ],
)
def test_the_layout_check_itself(source: str, bad: bool) -> None:
    assert bool(debian_data_misuse(source, "x.py")) is bad
