"""Task versions read back from the registry, for code outside :mod:`neuroplast.tasks`
(serving, tools): the public names of :mod:`neuroplast.tasks._store`.

>>> from neuroplast.tasks.stored import load_task_version     # doctest: +SKIP
>>> stored = load_task_version(registry, "shuttle-ae", "anomaly_detection")  # doctest: +SKIP
>>> net = stored.build(task_factory(stored.meta.task))          # doctest: +SKIP
"""

from __future__ import annotations

from neuroplast.tasks._store import (
    TASK_STATE,
    StoredTask,
    api_data,
    load_task_version,
    onnx_path,
    task_factory,
)

__all__ = ["TASK_STATE", "StoredTask", "api_data", "load_task_version", "onnx_path", "task_factory"]
