"""`continual update` on a Fashion-MNIST model trained on 8 classes, with the other 2 new:
replay keeps the old classes within 5 points, naive fine-tuning forgets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroplast import Engine
from neuroplast.continual.update import update_model
from tests.conftest import require_debian_data
from tests.continual._fashion import NEW, OLD, train_config, write_folder


@pytest.mark.slow
def test_replay_keeps_the_old_classes_and_naive_forgets_them(tmp_path: Path) -> None:
    require_debian_data("fashion_mnist")
    old = write_folder(tmp_path / "old", OLD, 400)
    new = write_folder(tmp_path / "new", NEW, 400, offset=400)
    with Engine(tmp_path / "home") as engine:
        parent = engine.train(train_config("fm8", old)).version
        drop = {}
        for strategy in ("naive", "replay"):
            outcome = update_model(
                engine.registry, "fm8:1", new, strategies=[strategy], allow_new_classes=True
            )
            assert outcome.version.parent_id == parent.id
            assert outcome.version.metrics["strategy"] == strategy
            assert outcome.after["new_accuracy"] > 0.85
            drop[strategy] = outcome.before["old_accuracy"] - outcome.after["old_accuracy"]
    assert outcome.before["old_accuracy"] > 0.75
    assert drop["replay"] < 0.05, drop
    assert drop["naive"] > 0.5, drop
