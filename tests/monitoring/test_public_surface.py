"""``neuroplast.monitoring`` re-exports exactly the ``__all__`` of its public modules, and
importing it imports neither torch nor scipy nor river (they load on first use)."""

from __future__ import annotations

import importlib
import subprocess
import sys

MODULES = ["detectors", "embeddings", "features", "html", "monitor", "reference"]


def test_the_package_re_exports_each_public_module() -> None:
    package = importlib.import_module("neuroplast.monitoring")
    expected: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"neuroplast.monitoring.{name}")
        for item in module.__all__:
            assert getattr(module, item, None) is not None, f"{name}.__all__ lists {item}"
        expected |= set(module.__all__)
    assert sorted(package.__all__) == sorted(expected)


def test_importing_it_loads_no_heavy_package() -> None:
    code = (
        "import sys, neuroplast.monitoring\n"
        "print(sorted(m for m in ('torch', 'scipy', 'river') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
