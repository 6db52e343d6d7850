"""Schema migrations: a database made by the first schema is upgraded when opened, and the
ORM classes agree with what the migrations build (on every backend)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from neuroplast.registry import Registry, history, promote
from neuroplast.registry._database import HEAD_REVISION, current_revision
from neuroplast.registry.schema import Base
from tests.registry._backends import OpenRegistry

FIXTURE = Path(__file__).with_name("fixtures") / "registry_schema1.db"


def test_a_database_made_by_the_first_schema_is_upgraded_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    """``registry_schema1.db`` was written by the registry code of the first commit
    (before the audit trail and before migrations): one model, two versions, one run."""
    shutil.copy(FIXTURE, tmp_path / "registry.db")
    before = create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    assert "events" not in inspect(before).get_table_names()
    before.dispose()

    with Registry(tmp_path) as reg:
        assert reg.migrated_from == "0001"
        with reg._engine.connect() as conn:
            assert current_revision(conn) == HEAD_REVISION
            assert conn.execute(text("SELECT version FROM schema_info")).scalars().all() == [3]
            # 0003: the absolute paths of /tmp/v1home became relative to its artifact root
            # (versions, artifacts) and to the home (runs)
            assert conn.execute(
                text("SELECT artifact_dir FROM versions ORDER BY id")
            ).scalars().all() == ["legacy/v1", "legacy/v2"]
            assert conn.execute(text("SELECT path FROM artifacts ORDER BY id")).scalars().all() == [
                "legacy/v1/model.json",
                "legacy/v2/model.json",
            ]
            assert conn.execute(text("SELECT checkpoint_dir FROM runs")).scalars().all() == [
                "runs/ab7ad96851a2"
            ]
        assert [v.ref for v in reg.versions("legacy")] == ["legacy:1", "legacy:2"]
        assert reg.resolve("legacy").metrics == {"test_accuracy": 0.71}
        legacy1 = reg.resolve("legacy:1")
        assert legacy1.artifact_dir == tmp_path / "artifacts" / "legacy" / "v1"
        assert legacy1.artifacts["model.json"].path == legacy1.artifact_dir / "model.json"
        run = reg.get_run(legacy1.run_id or 0)
        assert run.checkpoint_dir == tmp_path / "runs" / "ab7ad96851a2"
        assert [m.epoch for m in reg.epoch_metrics(run.id)] == [1, 2]
        # old versions appear in the audit trail; new operations work on the old data
        assert [e.version for e in history(reg, "legacy")] == [1, 2]
        promote(reg, "legacy:2", "production", reason="upgraded")
        assert reg.resolve("legacy@production").version == 2
        new = reg.create_version(
            "legacy", architecture="cnn", task="sentiment_analysis", modality="text", config={}
        )
        assert new.version == 3
    with Registry(tmp_path) as again:  # a second open is a no-op
        assert again.migrated_from == HEAD_REVISION


def test_the_orm_and_the_migrations_describe_the_same_schema(open_registry: OpenRegistry) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with open_registry() as reg, reg._engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_opening_a_new_database_creates_the_newest_schema(open_registry: OpenRegistry) -> None:
    with open_registry() as reg, reg._engine.connect() as conn:
        assert reg.migrated_from is None
        assert current_revision(conn) == HEAD_REVISION
        assert {"models", "versions", "runs", "events", "alembic_version"} <= set(
            inspect(conn).get_table_names()
        )
