"""A worker for the concurrency test: ``writer N HOME`` trains and registers 3 small models,
a model shared by all writers, its own, the shared one again; ``reader HOME STOPFILE``
lists and resolves until STOPFILE exists. Both print one JSON line of what they did."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import torch

from neuroplast.engine import Engine
from neuroplast.errors import ModelNotFoundError
from neuroplast.registry import Registry
from tests.conftest import small_image_config

#: Registrations per writer: 4 writers still put 8 versions of the shared model at once, with
#: 3/5 of the trainings (and their plots, most of a registration's time) of the former 5.
REGISTRATIONS = 3


def writer(index: int, home: Path) -> None:
    torch.set_num_threads(1)
    registered = []
    with Engine(home) as engine:
        for k in range(REGISTRATIONS):
            name = "shared" if k % 2 == 0 else f"own-{index}"
            config = small_image_config(name, epochs=1, seed=index * 10 + k)
            outcome = engine.train(config)
            registered.append(outcome.version.ref)
    sys.stdout.write(json.dumps({"writer": index, "registered": registered}) + "\n")


def reader(home: Path, stop: Path) -> None:
    reads = 0
    with Registry(home) as registry:
        while not stop.exists():
            for summary in registry.list_models():
                registry.versions(summary.name)
                with contextlib.suppress(ModelNotFoundError):  # first version still a draft
                    registry.resolve(summary.name)
            reads += 1
            time.sleep(0.01)
    sys.stdout.write(json.dumps({"reads": reads}) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "writer":
        writer(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        reader(Path(sys.argv[2]), Path(sys.argv[3]))
