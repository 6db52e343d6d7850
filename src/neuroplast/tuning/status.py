"""``neuroplast tune status NAME``: a study's trials, its best so far, parameter
importances (Optuna's fANOVA) and two PNG plots (optimisation history, parallel
coordinates) drawn with Optuna's matplotlib backend."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ModelNotFoundError
from neuroplast.tuning._optuna import require_optuna
from neuroplast.tuning.storage import StorageSpec, open_storage
from neuroplast.tuning.trial import trial_summary

if TYPE_CHECKING:
    import optuna

__all__ = ["StudyStatus", "study_status"]

logger = logging.getLogger(__name__)


@dataclass
class StudyStatus:
    study: str
    storage: str
    metric: str
    direction: str
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    best_version: str | None
    importances: dict[str, float]
    plots: dict[str, Path] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(t["state"] == state for t in self.trials)

    def to_dict(self) -> dict[str, Any]:
        counts = {s: self.count(s) for s in ("complete", "pruned", "fail", "running")}
        return {
            "study": self.study,
            "storage": self.storage,
            "metric": self.metric,
            "direction": self.direction,
            "counts": counts,
            "best": self.best,
            "best_version": self.best_version,
            "importances": self.importances,
            "plots": {k: str(v) for k, v in self.plots.items()},
            "trials": self.trials,
        }


def _load(spec: StorageSpec, name: str) -> optuna.Study:
    optuna = require_optuna()
    storage = open_storage(spec)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if name not in names:
        known = ", ".join(sorted(names)) or "none yet"
        raise ModelNotFoundError(
            f"no study named {name!r} in {spec.describe()} (studies there: {known}); "
            "start one with `neuroplast tune CONFIG --study NAME`"
        )
    return optuna.load_study(study_name=name, storage=storage)


def _importances(study: optuna.Study) -> dict[str, float]:
    optuna = require_optuna()
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2 or not study.best_trial.params:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as e:  # every trial with the same value, one param...
        logger.info("no parameter importances: %s", e)
        return {}
    return {k: round(float(v), 4) for k, v in values.items()}


def _plots(study: optuna.Study, out_dir: Path) -> dict[str, Path]:
    """optimisation history and parallel coordinates as PNG files (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    optuna = require_optuna()
    out_dir.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Path] = {}
    drawers = {
        "history": optuna.visualization.matplotlib.plot_optimization_history,
        "parallel": optuna.visualization.matplotlib.plot_parallel_coordinate,
    }
    for name, draw in drawers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental" warnings of the backend
            ax = draw(study)
        figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        figure.set_size_inches(9, 5)
        path = out_dir / f"{study.study_name}-{name}.png"
        tmp = path.with_name(f".{path.name}.tmp")
        figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
        os.replace(tmp, path)  # a reader never sees half a PNG
        plt.close(figure)
        plots[name] = path
    return plots


def study_status(spec: StorageSpec, name: str, *, plot_dir: Path | None = None) -> StudyStatus:
    """Everything ``tune status`` shows; PNG plots under ``plot_dir`` when given."""
    optuna = require_optuna()
    study = _load(spec, name)
    trials = [trial_summary(t) for t in study.get_trials(deepcopy=False)]
    complete = [t for t in trials if t["state"] == "complete"]
    best = trial_summary(study.best_trial) if complete else None
    plots = _plots(study, plot_dir) if plot_dir is not None and complete else {}
    direction = (
        "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
    )
    return StudyStatus(
        study=name,
        storage=spec.describe(),
        metric=str(study.user_attrs.get("metric", "value")),
        direction=direction,
        trials=trials,
        best=best,
        best_version=study.user_attrs.get("best_version"),
        importances=_importances(study),
        plots=plots,
    )
