"""Schema migrations: a database made by the first schema is upgraded when opened, and the
ORM classes agree with what the migrations build (on every backend)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from neuroplast.registry import Registry, history, promote
from neuroplast.registry._database import HEAD_REVISION, current_revision
from neuroplast.registry.maintenance import verify
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
            assert conn.execute(text("SELECT version FROM schema_info")).scalars().all() == [5]
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


def _old_database(url: str, home: Path, outside: Path) -> None:
    """A database at revision 0002 as the code before 0003 wrote it: absolute paths under
    ``home`` (and one artifact outside it, one in an fsspec store), with the files."""
    import sqlalchemy as sa

    from neuroplast.registry._database import _run_alembic, make_engine
    from neuroplast.registry.artifacts import atomic_write_bytes, sha256_bytes

    engine = make_engine(url)
    with engine.begin() as conn:
        _run_alembic(conn, "0002")
    root = home / "artifacts"
    model, plot = root / "m" / "v1" / "model.json", root / "m" / "v1" / "plots" / "cm.png"
    notes = outside / "notes.json"
    for path in (model, plot, notes, home / "runs" / "r1" / "last.json"):
        atomic_write_bytes(path, b"{}")
    now = datetime.now(UTC)
    t = {
        name: sa.table(name, *(sa.column(c) for c in columns.split()))
        for name, columns in {
            "schema_info": "id version created_at",
            "models": "id name architecture task modality created_at",
            "runs": "id uid model_name config config_hash status device precision "
            "checkpoint_dir epochs_done started_at",
            "versions": "id uid model_id version status stage source run_id config params_count "
            "size_bytes metrics artifact_dir created_at",
            "artifacts": "id version_id name path sha256 size_bytes",
            "evaluations": "id version_id split data_source metrics plots created_at",
        }.items()
    }
    sha = sha256_bytes(b"{}")
    with engine.begin() as conn:
        conn.execute(t["schema_info"].insert().values(id=1, version=2, created_at=now))
        conn.execute(
            t["models"]
            .insert()
            .values(id=1, name="m", architecture="cnn", task="t", modality="text", created_at=now)
        )
        conn.execute(
            t["runs"]
            .insert()
            .values(
                id=1,
                uid="r1",
                model_name="m",
                config="{}",
                config_hash="h",
                status="completed",
                device="",
                precision="",
                checkpoint_dir=str(home / "runs" / "r1"),
                epochs_done=1,
                started_at=now,
            )
        )
        for number in (1, 2):
            conn.execute(
                t["versions"]
                .insert()
                .values(
                    id=number,
                    uid=f"u{number}",
                    model_id=1,
                    version=number,
                    status="ready",
                    stage="candidate",
                    source="train",
                    run_id=1,
                    config="{}",
                    params_count=1,
                    size_bytes=2,
                    metrics="{}",
                    artifact_dir=str(root / "m" / f"v{number}"),
                    created_at=now,
                )
            )
        for artifact_id, version_id, name, path in (
            (1, 1, "model.json", str(model)),
            (2, 1, "notes.json", str(notes)),
            (3, 2, "model.json", "memory://bucket/artifacts/m/v2/model.json"),
        ):
            conn.execute(
                t["artifacts"]
                .insert()
                .values(
                    id=artifact_id,
                    version_id=version_id,
                    name=name,
                    path=path,
                    sha256=sha,
                    size_bytes=2,
                )
            )
        conn.execute(
            t["evaluations"]
            .insert()
            .values(
                id=1,
                version_id=1,
                split="test",
                data_source="x",
                metrics="{}",
                plots=f'{{"cm": "{plot}"}}',
                created_at=now,
            )
        )
    engine.dispose()


def test_a_database_with_absolute_paths_becomes_relative_and_survives_a_move(
    tmp_path: Path, db_url: str | None
) -> None:
    old, new, outside = tmp_path / "old", tmp_path / "new", tmp_path / "outside"
    old.mkdir()
    _old_database(db_url or f"sqlite:///{old / 'registry.db'}", old, outside)
    old.rename(new)

    with Registry(new, url=db_url) as reg:
        assert reg.migrated_from == "0002"
        with reg._engine.connect() as conn:
            assert conn.execute(text("SELECT version FROM schema_info")).scalars().all() == [5]
            rows = conn.execute(text("SELECT path FROM artifacts ORDER BY id")).scalars().all()
            assert rows == [
                "m/v1/model.json",
                str(outside / "notes.json"),  # outside the version's root: kept as it was
                "memory://bucket/artifacts/m/v2/model.json",  # a URL: kept as it was
            ]
            assert conn.execute(
                text("SELECT artifact_dir FROM versions ORDER BY id")
            ).scalars().all() == ["m/v1", "m/v2"]
            assert conn.execute(text("SELECT checkpoint_dir FROM runs")).scalars().all() == [
                "runs/r1"
            ]
        version = reg.resolve("m:1")
        assert version.artifacts["model.json"].path == new / "artifacts" / "m" / "v1" / "model.json"
        assert reg.evaluations(version)[0].plots == {
            "cm": str(new / "artifacts" / "m" / "v1" / "plots" / "cm.png")
        }
        assert reg.get_run(1).checkpoint_dir == new / "runs" / "r1"
        report = verify(reg)
        # everything local is found where the move put it; only the URL (no such store
        # here) is missing
        assert report.problems == ["memory://bucket/artifacts/m/v2/model.json: missing"]
        assert report.orphans == [] and report.checked == 3


def test_0003_downgrades_to_absolute_paths_and_upgrades_again(
    open_registry: OpenRegistry, tmp_path: Path
) -> None:
    from alembic import command
    from alembic.config import Config

    from neuroplast.registry._database import _MIGRATIONS
    from neuroplast.registry.artifacts import atomic_write_json

    reg = open_registry(tmp_path)
    run = reg.start_run("m", {})
    version = reg.create_version(
        "m", architecture="cnn", task="t", modality="text", config={}, run_id=run.id
    )
    path = version.artifact_dir / "model.json"
    reg.finalize_version(
        version.id, files={"model.json": (path, atomic_write_json(path, {}))}, params_count=1
    )
    with reg._engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes.update(connection=conn, home=str(tmp_path))
        command.downgrade(config, "0002")
        assert conn.execute(text("SELECT path FROM artifacts")).scalars().all() == [str(path)]
        assert conn.execute(text("SELECT checkpoint_dir FROM runs")).scalars().all() == [
            str(run.checkpoint_dir)
        ]
        assert "lease_owner" not in {c["name"] for c in inspect(conn).get_columns("runs")}
        command.upgrade(config, "head")
        assert conn.execute(text("SELECT path FROM artifacts")).scalars().all() == [
            "m/v1/model.json"
        ]
    assert verify(reg).clean and reg.resolve("m:1").artifacts["model.json"].path == path
