"""What kind of model a registered version is, for serving: a classifier (a Predictor), one of
the task handlers' models (anomaly detection, forecasting, text generation) or a
neuromorphic learner; which route answers for each kind, and the base of the adapters that
serve the kinds other than classifiers (:mod:`neuroplast.serving._task_models`).

Nothing here imports torch: the server of an ONNX classifier stays torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.serving.errors import WrongRoute

if TYPE_CHECKING:
    from neuroplast.registry import VersionRecord
    from neuroplast.serving._loading import InputSpec

__all__ = [
    "CLASSIFIER",
    "NEUROMORPHIC",
    "ROUTES",
    "TaskModel",
    "kind_title",
    "version_kind",
    "wrong_route",
]

CLASSIFIER = "classification"
NEUROMORPHIC = "neuromorphic"
#: What ``neuro train`` stores beside a learner's tensors (its JSON half).
LEARNER_FILE = "neuro/learner.json"
#: The kind of a served model -> the last part of the route that answers it.
ROUTES: dict[str, str] = {
    CLASSIFIER: "predict",
    NEUROMORPHIC: "predict",
    "anomaly_detection": "score",
    "forecasting": "forecast",
    "generation": "generate",
}
_TITLES = {
    CLASSIFIER: "a classifier",
    NEUROMORPHIC: "a neuromorphic learner",
    "anomaly_detection": "an anomaly detection model",
    "forecasting": "a forecasting model",
    "generation": "a text generation model",
}


def version_kind(version: VersionRecord) -> str:
    """The serving kind of ``version`` (a key of :data:`ROUTES`), read from its own files:
    the registry records one architecture and task per model name, so a version of another
    task registered under a name is only told apart by its ``model.json`` (or, for a
    neuromorphic learner, by its learner file)."""
    from neuroplast.model_meta import META
    from neuroplast.registry.artifacts import read_json_verified
    from neuroplast.tasks import TASK_MODULES

    if LEARNER_FILE in version.artifacts or version.architecture == NEUROMORPHIC:
        return NEUROMORPHIC
    task, meta = str(version.task), version.artifacts.get(META)
    if meta is not None:
        stored = read_json_verified(Path(meta.path), meta.sha256)
        if isinstance(stored, dict) and stored.get("task"):
            task = str(stored["task"])
    return task if task in TASK_MODULES else CLASSIFIER


def kind_title(kind: str) -> str:
    """``kind`` in words, with its article: "a classifier", "an anomaly detection model"."""
    return _TITLES.get(kind, f"a {kind} model")


def wrong_route(name: str, kind: str, route: str) -> WrongRoute:
    """The 400 answer to a request sent to a route that does not serve ``kind``."""
    right = ROUTES.get(kind, "predict")
    return WrongRoute(
        f"{name} is {kind_title(kind)}: it answers at POST /v1/models/{name}/{right}, not "
        f"/{route} (GET /v1/models/{name} shows its task and inputs)",
        detail={"task": kind, "route": f"/v1/models/{name}/{right}"},
    )


class TaskModel:
    """A served version that is not a Predictor: ``run(items)`` answers a batch of prepared
    inputs (one output per input) in the batcher's thread; ``details()`` is what
    ``GET /v1/models/NAME`` says about it (threshold, columns, horizon, ...)."""

    task: str = CLASSIFIER
    backend: str = "torch"
    ref: str = ""
    label_names: list[str]
    spec: InputSpec
    max_batch: int | None = None  # at most this many inputs per batch (None: the server's)

    def run(self, items: list[Any]) -> list[Any]:
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        return {}
