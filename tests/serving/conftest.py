"""The task-serving tests' fixture: one real ``neuroplast serve`` on 127.0.0.1 serving an
anomaly detector, a forecaster, a language model and a neuromorphic learner at once (so that
the server starts with every kind), trained on tiny slices of real data with the task tests'
own configs, in a copy of the serving tests' home (its ``rt-serve`` classifier is served
too, and gets a third version that is a language model, for the mixed A/B test: a registry
written before names kept their kind could hold one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import one_torch_thread
from tests.serving.fixtures import TEXT_MODEL, Server, copy_home, launch

ANOMALY, FORECAST, LM, NEURO = "shuttle-ae", "co2-lstm", "quotes-gpt", "neuro-tiny"


@dataclass
class TaskServer:
    server: Server
    home: Path
    digit: Path  # a real MNIST digit as PNG (label 0)
    learner: Any  # the registered learner as trained, in memory (no second encoder load)
    #: the neuromorphic learner's class of ``digit``
    digit_label: str = "0"


def _train(home: Path, folder: Path) -> Any:
    """Train the served models into ``home``; the neuromorphic learner trained."""
    from neuroplast.config import parse_run_config
    from neuroplast.continual.neuromorphic.run_config import parse_neuro_config
    from neuroplast.continual.neuromorphic.workflow import train_learner
    from neuroplast.registry import Registry, store
    from neuroplast.tasks import task_handler
    from neuroplast.tasks.generation.corpus import fortune_documents
    from tests.continual.neuromorphic.test_learner import TINY
    from tests.tasks.conftest import template_config, train_into
    from tests.tasks.forecasting.test_forecast_end_to_end import SMALL
    from tests.tasks.generation.conftest import require_fortunes
    from tests.tasks.generation.test_gen_end_to_end import tiny_config

    require_fortunes()
    tabular = ("data.limit=800", "train.epochs=2", "anomaly.baselines=[]")
    train_into(home, template_config("anomaly-tabular", *tabular))
    train_into(home, template_config("forecast", *SMALL))
    text = folder / "quotes.txt"
    text.write_text("\n\n".join(d.replace("\n\n", "\n") for d in fortune_documents()[:120]))
    with Registry(home) as registry:
        config = tiny_config(text, export_onnx=False)
        task_handler("generation").train(parse_run_config(config), registry)
        # rt-serve:3, a language model beside the text classifier's versions 1 and 2, as a
        # registry from before names kept their kind may hold (the registry refuses it now)
        config = {**config, "name": TEXT_MODEL, "train": {**config["train"], "epochs": 1}}
        with pytest.MonkeyPatch.context() as legacy:
            legacy.setattr(store, "check_same_kind", lambda *args: None)
            task_handler("generation").train(parse_run_config(config), registry)
        return train_learner(parse_neuro_config(TINY), registry).runs[0].learner


@pytest.fixture(scope="session")
def task_server(
    serving_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TaskServer]:
    from PIL import Image

    from neuroplast.data import load_builtin

    folder = tmp_path_factory.mktemp("task-serving")
    home = copy_home(serving_template, folder / "home")
    with one_torch_thread():
        learner = _train(home, folder)
    digits = load_builtin("mnist_5k")
    first = int((digits.labels == 0).nonzero()[0][0])
    digit = folder / "digit.png"
    Image.fromarray(digits.images[first, 0]).save(digit)
    running = launch(home, ANOMALY, FORECAST, LM, NEURO, TEXT_MODEL, log_dir=folder)
    yield TaskServer(running, home, digit, learner)
    running.stop()
