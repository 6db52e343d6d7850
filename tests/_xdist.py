"""How ``make test`` spreads the suite over pytest-xdist workers (``--dist loadgroup``).

xdist's own ``loadgroup`` reads ``@pytest.mark.xdist_group`` by renaming the test ids, which
pytest 9 no longer allows (the marks are silently ignored), so the groups are decided here,
from the test ids alone, by :class:`GroupScheduling` (``tests/conftest.py`` hands it to xdist):

* the tests whose documented commands serve on localhost's fixed ports (8000, 8001: the
  README's commands and the docs pages that curl ``localhost:80..``) form one group, run one
  after the other on one worker;
* the modules that share a heavy session fixture (:data:`SHARED_GROUPS`) form one group;
* each test of :data:`SPREAD_MODULES` is a unit of its own (they build what they need);
* every other module is one unit, so that its module-scope fixtures (trained homes) are built
  once instead of once per worker.

Units start longest first where known (:data:`SLOW_FIRST`), so that no worker is left with a
three-minute test while the other idles.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXED_PORTS = "fixed-ports-8000"
#: Modules whose tests are spread one by one (each builds all it needs; some take minutes).
SPREAD_MODULES = frozenset({"tests/test_docs.py"})
#: Modules that share a heavy session fixture, by group.
SHARED_GROUPS = {
    "tests/serving/test_tasks.py": "task_server",  # four task models and their server
    "tests/serving/test_neuro.py": "task_server",
}
#: Units that take a minute or more (the last CI run's slowest), started before the rest.
SLOW_FIRST = (
    FIXED_PORTS,
    "tests/test_docs.py::test_docs_page_runs[continual]",
    "task_server",
    "tests/registry/test_concurrency.py",
    "tests/workflows/test_registration_crash.py",
    "tests/workflows/test_crash_safety.py",
    "tests/serving/test_fuzz.py",
    "tests/test_seed_examples.py",
    "tests/cli/test_console_script.py",
    "tests/test_docs.py::test_docs_page_runs[",  # the other pages
    "tests/benchmarks/test_bench_serving.py",
    "tests/ui/test_browser.py",
    "tests/training/test_ddp.py",
)
_FIXED_PORT = re.compile(r"localhost:80\d\d")


def fixed_port_tests() -> frozenset[str]:
    """The ids of the tests that run commands on localhost's fixed ports."""
    pages = [
        f"tests/test_docs.py::test_docs_page_runs[{page.stem}]"
        for page in sorted((ROOT / "docs").glob("*.md"))
        if _FIXED_PORT.search(page.read_text())
    ]
    return frozenset({"tests/test_readme.py::test_readme_cli_commands_run", *pages})


def unit_of(nodeid: str, fixed: frozenset[str]) -> str:
    """The work unit (group) of the test ``nodeid``."""
    if nodeid in fixed:
        return FIXED_PORTS
    module = nodeid.split("::", 1)[0]
    if module in SPREAD_MODULES:
        return nodeid
    return SHARED_GROUPS.get(module, module)


def rank(unit: str) -> int:
    """Where ``unit`` starts: the index of its first :data:`SLOW_FIRST` prefix, else last."""
    return next((i for i, slow in enumerate(SLOW_FIRST) if unit.startswith(slow)), len(SLOW_FIRST))


def make_scheduler(config: Any, log: Any) -> Any:
    """A :class:`xdist.scheduler.LoadScopeScheduling` on :func:`unit_of`'s units."""
    from xdist.scheduler import LoadScopeScheduling

    fixed = fixed_port_tests()

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid, fixed)

        def _assign_work_unit(self, node: Any) -> None:
            first = min(self.workqueue, key=rank)  # min keeps the queue's order among equals
            self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return GroupScheduling(config, log)
