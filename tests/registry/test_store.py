from __future__ import annotations

from pathlib import Path

import pytest

from neuroplast.errors import ConfigError, ModelNotFoundError, RegistryError
from neuroplast.registry import Registry
from neuroplast.registry.artifacts import atomic_write_json
from neuroplast.types import ModelMetrics
from tests.registry._backends import OpenRegistry


def _ready_version(reg: Registry, name: str = "m", modality: str = "text") -> int:
    v = reg.create_version(
        name, architecture="cnn", task="text_classification", modality=modality, config={"k": 1}
    )
    path = v.artifact_dir / "model.json"
    sha = atomic_write_json(path, {"x": 1})
    reg.finalize_version(
        v.id, files={"model.json": (path, sha)}, params_count=10, metrics={"a": 1.0}
    )
    return v.version


def test_versions_are_numbered_per_model_and_resolved_by_name_ref_and_uid(
    open_registry: OpenRegistry,
) -> None:
    with open_registry() as reg:
        assert [_ready_version(reg) for _ in range(3)] == [1, 2, 3]
        assert _ready_version(reg, "other") == 1
        assert reg.resolve("m").version == 3
        two = reg.resolve("m:2")
        assert two.ref == "m:2" and two.params_count == 10 and two.metrics == {"a": 1.0}
        assert reg.resolve(two.uid).ref == "m:2"
        assert two.artifacts["model.json"].size_bytes > 0
        assert [s.name for s in reg.list_models()] == ["m", "other"]
        assert [v.version for v in reg.versions("m")] == [1, 2, 3]


def test_drafts_are_invisible_until_finalized(open_registry: OpenRegistry) -> None:
    with open_registry() as reg:
        _ready_version(reg)
        draft = reg.create_version(
            "m", architecture="cnn", task="text_classification", modality="text", config={}
        )
        assert draft.version == 2
        assert reg.resolve("m").version == 1
        with pytest.raises(ModelNotFoundError):
            reg.resolve("m:2")


def test_unknown_model_error_lists_the_models_that_exist(open_registry: OpenRegistry) -> None:
    with open_registry() as reg:
        with pytest.raises(ModelNotFoundError, match="none yet"):
            reg.resolve("nope")
        _ready_version(reg, "alpha")
        with pytest.raises(ModelNotFoundError, match=r"'nope'.*models: alpha"):
            reg.resolve("nope")
        with pytest.raises(ModelNotFoundError):
            reg.resolve("alpha:9")


def test_a_name_keeps_its_modality(open_registry: OpenRegistry) -> None:
    with open_registry() as reg:
        _ready_version(reg, "m", "text")
        with pytest.raises(RegistryError, match="holds text models"):
            _ready_version(reg, "m", "image")


def test_a_name_keeps_its_task(open_registry: OpenRegistry) -> None:
    """A text generator registered under a classifier's name would be served as a classifier."""
    with open_registry() as reg:
        _ready_version(reg, "m")
        with pytest.raises(
            RegistryError, match="holds classification models; this one is generation"
        ):
            reg.create_version(
                "m", architecture="gpt", task="generation", modality="text", config={}
            )
        assert [v.version for v in reg.versions("m")] == [1]
        # another classification name is the same kind
        reg.create_version(
            "m", architecture="cnn", task="sentiment_analysis", modality="text", config={}
        )


def test_runs_epoch_metrics_and_evaluations_persist_across_reopen(
    open_registry: OpenRegistry,
) -> None:
    with open_registry() as reg:
        run = reg.start_run("m", {"a": 1})
        reg.log_epoch(run.id, ModelMetrics(epoch=1, train_loss=0.9, val_loss=0.8, val_accuracy=0.5))
        reg.log_epoch(run.id, ModelMetrics(epoch=2, train_loss=0.7))
        reg.log_epoch(run.id, ModelMetrics(epoch=2, train_loss=0.6))  # re-logged after a resume
        assert reg.latest_interrupted_run({"a": 1}) is not None
        reg.update_run(run.id, status="completed")
        _ready_version(reg)
        reg.add_evaluation(
            reg.resolve("m").id, split="test", data_source="x", metrics={"accuracy": 1}
        )
    with open_registry() as reg:
        history = reg.epoch_metrics(run.id)
        assert [(m.epoch, m.train_loss) for m in history] == [(1, 0.9), (2, 0.6)]
        assert history[0].val_accuracy == 0.5
        assert reg.get_run(run.id).status == "completed"
        assert reg.get_run(run.id).finished_at is not None
        assert reg.latest_interrupted_run({"a": 1}) is None
        assert reg.evaluations(reg.resolve("m"))[0].metrics == {"accuracy": 1}


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    from sqlalchemy import text

    with Registry(tmp_path) as reg, reg._engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_unwritable_home_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RegistryError, match="cannot create the neuroplast home"):
        Registry(blocker / "home")


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\\\b", "..", "", "x" * 101, "/abs", "a..b"])
def test_model_names_cannot_escape_the_home(open_registry: OpenRegistry, name: str) -> None:
    reg = open_registry()
    with pytest.raises(ConfigError, match="is not allowed"):
        reg.create_version(name, architecture="cnn", task="t", modality="text", config={})
    assert reg.list_models() == []
    assert not (reg.home.parent / "evil").exists()


def test_a_postgresql_url_without_its_driver_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if neuroplast[postgres] were absent
    with pytest.raises(RegistryError, match=r"pip install 'neuroplast\[postgres\]'"):
        Registry(tmp_path, url="postgresql+psycopg://nobody@127.0.0.1:1/none")
