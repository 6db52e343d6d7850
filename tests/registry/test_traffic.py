"""Serving traffic in the registry (on SQLite and PostgreSQL): A/B routing and shadows with
their validation and audit events, the prediction log, feedback, the per-arm status and
its numbers, pruning, the serving fingerprint, and deleting versions that served."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text

from neuroplast.errors import ConfigError, DataError, ModelNotFoundError, RegistryError
from neuroplast.registry import Registry, history, promote
from neuroplast.registry.artifacts import atomic_write_json
from neuroplast.registry.maintenance import delete_version
from neuroplast.registry.traffic import ArmStatus, Routing, format_split, parse_split
from tests.registry._backends import OpenRegistry

LABELS = ["negative", "positive"]
NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def _version(reg: Registry, name: str = "rt") -> int:
    v = reg.create_version(name, architecture="cnn", task="t", modality="text", config={})
    path = v.artifact_dir / "model.json"
    sha = atomic_write_json(path, {"format": "neuroplast-model", "label_names": LABELS})
    reg.finalize_version(v.id, files={"model.json": (path, sha)}, params_count=1)
    return v.version


@pytest.fixture()
def reg(open_registry: OpenRegistry, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """``rt`` with versions 1-4, version 1 in production."""
    monkeypatch.setenv("NEUROPLAST_USER", "ada")
    registry = open_registry()
    for _ in range(4):
        _version(registry)
    promote(registry, "rt:1", "production")
    return registry


def _row(request: str, version: int, label: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request,
        "item": 0,
        "model": "rt",
        "version": version,
        "arm": "ab",
        "at": NOW,
        "input_text": "a witty film",
        "input_sha256": None,
        "thumbnail": None,
        "label": label,
        "probability": 0.8,
        "top_k": [[label, 0.8]],
        "latency_ms": 5.0,
        **extra,
    }


def _events(reg: Registry) -> list[tuple[str, int | None, str]]:
    events = history(reg, "rt")
    return [(e.action, e.version, e.reason) for e in events if e.action.startswith(("ab_", "sh"))]


# ---- routing ------------------------------------------------------------------------------
def test_a_model_without_routing_has_an_empty_split(reg: Registry) -> None:
    assert reg.routing("rt") == Routing("rt", {}, None, (), 0)
    assert not reg.routing("rt").active
    with pytest.raises(ModelNotFoundError, match="no model named 'ghost'; models: rt"):
        reg.routing("ghost")
    with pytest.raises(ModelNotFoundError, match="name the model \\('rt'\\), not a version"):
        reg.routing("rt:3")


def test_start_change_and_stop_an_ab_test_with_audit_events(reg: Registry) -> None:
    started = reg.start_ab("rt", {1: 0.9, 2: 0.1}, sticky_key="user_id", reason="try v2")
    assert started.split == {1: 0.9, 2: 0.1} and started.sticky_key == "user_id"
    assert started.active and started.revision == 1 and started.started_at is not None
    assert reg.routing("rt") == started
    three = reg.start_ab("rt", {1: 0.2, 2: 0.3, 3: 0.5})  # a running test: the split changes
    assert three.revision == 2 and three.sticky_key is None and set(three.split) == {1, 2, 3}
    stopped = reg.stop_ab("rt")
    assert stopped.split == {} and not stopped.active and stopped.revision == 3
    assert reg.resolve("rt@production").version == 1  # no promotion asked for
    assert _events(reg) == [
        ("ab_start", None, "1:0.9,2:0.1 sticky by user_id; try v2"),
        ("ab_change", None, "1:0.2,2:0.3,3:0.5"),
        ("ab_stop", None, "was 1:0.2,2:0.3,3:0.5"),
    ]
    assert {e.user for e in history(reg, "rt") if e.action.startswith("ab_")} == {"ada"}


def test_stop_with_promote_makes_the_winner_production_and_keeps_shadows(reg: Registry) -> None:
    reg.start_ab("rt", {1: 0.5, 2: 0.5})
    reg.add_shadow("rt:3")
    with pytest.raises(ConfigError, match="runs versions 1, 2; promote one of them"):
        reg.stop_ab("rt", promote=4)
    assert reg.routing("rt").active  # a refused stop changes nothing
    done = reg.stop_ab("rt", promote=2, reason="v2 wins on feedback")
    assert not done.active and done.shadows == (3,)
    assert reg.resolve("rt@production").version == 2
    assert ("promote", 2, "v2 wins on feedback") in [
        (e.action, e.version, e.reason) for e in history(reg, "rt")
    ]
    assert _events(reg)[-1] == (
        "ab_stop",
        None,
        "was 1:0.5,2:0.5; v2 promoted to production; v2 wins on feedback",
    )
    with pytest.raises(RegistryError, match="rt has no A/B test running; start one with"):
        reg.stop_ab("rt")


BAD_SPLITS = [
    ({1: 1.0}, ConfigError, "needs at least two versions, got 1:1"),
    ({}, ConfigError, "needs at least two versions, got none"),
    ({1: 0.9, 2: 0.0}, ConfigError, "the weight of version 2 is 0.0; every weight must be"),
    ({1: 1.1, 2: -0.1}, ConfigError, "the weight of version 2 is -0.1"),
    ({1: float("nan"), 2: 0.5}, ConfigError, "the weight of version 1 is nan"),
    ({1: 0.9, 2: 0.05}, ConfigError, "sum to 0.95, not 1; make them add up to 1"),
    ({0: 0.5, 1: 0.5}, ConfigError, "A/B versions are numbers >= 1, not 0"),
    ({1: 0.5, 9: 0.5}, ModelNotFoundError, "rt:9 is not a ready version of rt; its versions: 1, 2"),
]


def test_a_bad_split_is_refused_and_changes_nothing(reg: Registry) -> None:
    for split, error, message in BAD_SPLITS:  # one registry for all: a PostgreSQL one is slow
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            reg.start_ab("rt", split)
    assert reg.routing("rt").revision == 0 and _events(reg) == []


def test_weights_within_a_millionth_of_one_are_accepted_and_made_exact(reg: Registry) -> None:
    routing = reg.start_ab("rt", {1: 0.1, 2: 0.2, 3: 0.7000004})
    assert abs(sum(routing.split.values()) - 1.0) < 1e-12
    with pytest.raises(ConfigError, match="is not a field name"):
        reg.start_ab("rt", {1: 0.5, 2: 0.5}, sticky_key="user id; drop")
    with pytest.raises(ModelNotFoundError, match="no model named 'ghost'"):
        reg.start_ab("ghost", {1: 0.5, 2: 0.5})


def test_shadows_are_checked_added_and_removed(reg: Registry) -> None:
    with pytest.raises(ConfigError, match=r"rt:1 answers rt's requests \(its production version\)"):
        reg.add_shadow("rt:1")
    with pytest.raises(ConfigError, match="name a version: rt:N"):
        reg.add_shadow("rt")
    with pytest.raises(ModelNotFoundError, match="rt:7 is not a ready version of rt"):
        reg.add_shadow("rt:7")
    assert reg.add_shadow("rt:3", reason="new tokenizer").shadows == (3,)
    with pytest.raises(ConfigError, match="rt:3 already shadows rt"):
        reg.add_shadow("rt:3")
    assert reg.add_shadow("rt@candidate").shadows == (3, 4)  # other refs are resolved
    with pytest.raises(ConfigError, match="rt:3 is a shadow of rt; a version cannot answer"):
        reg.start_ab("rt", {1: 0.5, 3: 0.5})
    reg.start_ab("rt", {1: 0.5, 2: 0.5})
    with pytest.raises(ConfigError, match=r"rt:2 answers rt's requests \(an A/B arm\)"):
        reg.add_shadow("rt:2")
    with pytest.raises(ConfigError, match="rt:2 is not a shadow of rt; its shadows: rt:3, rt:4"):
        reg.remove_shadow("rt:2")
    assert reg.remove_shadow("rt:3").shadows == (4,)
    routing = reg.remove_shadow("rt:4")
    assert routing.shadows == () and routing.revision == 5
    assert [a for a, _, _ in _events(reg)] == [
        "shadow_start",
        "shadow_start",
        "ab_start",
        "shadow_stop",
        "shadow_stop",
    ]
    assert _events(reg)[0] == ("shadow_start", 3, "new tokenizer")


def test_at_most_four_shadows(reg: Registry) -> None:
    for _ in range(2):
        _version(reg)
    for number in (2, 3, 4, 5):
        reg.add_shadow(f"rt:{number}")
    with pytest.raises(ConfigError, match="rt has 4 shadows already"):
        reg.add_shadow("rt:6")


def test_parse_split_reads_the_cli_form_and_explains_mistakes() -> None:
    assert parse_split("3:0.9,4:0.1") == {3: 0.9, 4: 0.1}
    assert parse_split(" 3:0.5 , 4:0.5") == {3: 0.5, 4: 0.5}
    assert format_split({4: 0.1, 3: 0.9}) == "3:0.9,4:0.1"
    for bad in ("3=0.9,4=0.1", "3:0.9,", "a:0.5,b:0.5", "3:x,4:0.1", "-1:0.5,2:0.5", "3"):
        with pytest.raises(ConfigError, match="is not VERSION:WEIGHT; write the version"):
            parse_split(bad)
    with pytest.raises(ConfigError, match="names version 3 twice"):
        parse_split("3:0.5,3:0.5")


# ---- the log and feedback -----------------------------------------------------------------
def test_log_predictions_writes_a_batch_and_reads_it_back_newest_first(reg: Registry) -> None:
    rows = [
        _row("r1", 1, "positive", at=NOW - timedelta(minutes=2)),
        _row("r2", 1, "negative", item=0, at=NOW.replace(tzinfo=None)),  # naive: UTC
        _row("r2", 1, "positive", item=1),
        _row("r2", 3, "positive", item=1, arm="shadow"),
    ]
    assert reg.log_predictions(rows) == 4
    assert reg.log_predictions([]) == 0
    logged = reg.predictions("rt")
    assert [(p.request_id, p.item) for p in logged] == [("r2", 1), ("r2", 0), ("r1", 0)]
    assert logged[0].at == NOW and logged[0].top_k == [("positive", 0.8)]
    assert logged[0].input_text == "a witty film" and logged[0].feedback is None
    assert len(reg.predictions("rt", include_shadow=True)) == 4
    assert len(reg.predictions("rt", since=NOW - timedelta(minutes=1))) == 2
    assert len(reg.predictions("rt", limit=1)) == 1
    with pytest.raises(ConfigError, match="limit must be an integer >= 1"):
        reg.predictions("rt", limit=0)


BAD_ROWS = [
    ({"arm": "canary"}, "arm is 'canary'; expected one of production, ab, shadow"),
    ({"request_id": "x" * 65}, "request_id must be a text of 1 to 64 characters"),
    ({"request_id": ""}, "request_id must be a text of 1 to 64 characters"),
    ({"version": 0}, "version must be an integer >= 1, not 0"),
    ({"item": -1}, "item must be an integer >= 0"),
    ({"latency_ms": float("inf")}, "latency_ms must be a number >= 0"),
    ({"at": "2026-12-02"}, "at must be a datetime"),
    ({"top_k": [["positive"]]}, "top_k must be a list of \\[label, probability\\]"),
    ({"colour": "red"}, "unknown keys \\['colour'\\]"),
]


def test_a_bad_log_row_writes_nothing(reg: Registry) -> None:
    for change, message in BAD_ROWS:
        with pytest.raises(DataError, match=f"prediction log row 1: {message}"):
            reg.log_predictions(
                [_row("ok", 1, "positive"), {**_row("bad", 1, "positive"), **change}]
            )
    assert reg.predictions("rt", include_shadow=True) == []


def test_log_rows_of_an_unknown_model_are_refused(reg: Registry) -> None:
    with pytest.raises(ModelNotFoundError, match="cannot log predictions of unknown models: gh"):
        reg.log_predictions([_row("r", 1, "positive", model="gh")])
    missing = _row("r", 1, "positive")
    del missing["label"]
    with pytest.raises(DataError, match="missing keys \\['label'\\]"):
        reg.log_predictions([missing])


def test_feedback_joins_by_request_id_and_item(reg: Registry) -> None:
    reg.log_predictions(
        [
            _row("r1", 2, "positive"),
            _row("r1", 2, "negative", item=1),
            _row("r1", 3, "positive", arm="shadow"),
        ]
    )
    answer = reg.add_feedback("r1", "negative")
    assert answer == {
        "request_id": "r1",
        "item": 0,
        "model": "rt",
        "version": 2,
        "predicted": "positive",
        "label": "negative",
        "correct": False,
        "new_class": False,
    }
    assert reg.add_feedback("r1", "positive")["correct"] is True  # a second answer replaces
    assert reg.add_feedback("r1", "negative", item=1)["correct"] is True
    assert {(p.item, p.feedback) for p in reg.predictions("rt")} == {
        (0, "positive"),
        (1, "negative"),
    }
    assert reg.add_feedback("r1", "positive", model="rt")["model"] == "rt"
    with pytest.raises(ModelNotFoundError, match="request r1 was answered by rt, not fm: send"):
        reg.add_feedback("r1", "positive", model="fm")
    with pytest.raises(ModelNotFoundError, match="no logged prediction has the request id 'r9'"):
        reg.add_feedback("r9", "positive")
    with pytest.raises(DataError, match="request r1 had 2 inputs \\(items 0 to 1\\); there is no"):
        reg.add_feedback("r1", "positive", item=5)
    with pytest.raises(DataError, match="'neutral' is not a label of rt:2; its labels: negative"):
        reg.add_feedback("r1", "neutral")
    feedback = {p.item: p.feedback for p in reg.predictions("rt")}
    assert feedback[0] == "positive"  # the refusal changed nothing
    taken = reg.add_feedback("r1", "neutral", new_class=True)
    assert taken["new_class"] is True and taken["correct"] is False
    assert reg.add_feedback("r1", "positive", new_class=True)["new_class"] is False


def test_feedback_on_a_deleted_version_takes_any_label(reg: Registry) -> None:
    reg.log_predictions([_row("r1", 4, "positive")])
    delete_version(reg, "rt:4")
    assert reg.add_feedback("r1", "neutral")["version"] == 4


# ---- status -------------------------------------------------------------------------------
def test_ab_status_reports_requests_latency_agreement_and_accuracy(reg: Registry) -> None:
    reg.start_ab("rt", {1: 0.9, 2: 0.1})
    reg.add_shadow("rt:3")
    rows = []
    for i in range(100):  # v1: requests with latencies 1..100 ms, two inputs each
        rows += [_row(f"a{i}", 1, "positive", item=j, latency_ms=float(i + 1)) for j in (0, 1)]
    for i in range(4):  # v2: four one-input requests, the slowest input counts
        rows.append(_row(f"b{i}", 2, "negative", latency_ms=10.0 * (i + 1)))
    # the shadow saw a0 (two inputs) and b0, b1: agrees on a0/0 and b0, differs on a0/1, b1
    rows += [
        _row("a0", 3, "positive", arm="shadow"),
        _row("a0", 3, "negative", item=1, arm="shadow"),
        _row("b0", 3, "negative", arm="shadow"),
        _row("b1", 3, "positive", arm="shadow"),
        _row("old", 1, "positive", at=NOW - timedelta(days=2), latency_ms=1e6),
    ]
    reg.log_predictions(rows)
    for request, label in (("a0", "positive"), ("a1", "negative"), ("b0", "negative")):
        reg.add_feedback(request, label)

    status = {(s.version, s.arm): s for s in reg.ab_status("rt", since=NOW - timedelta(hours=1))}
    assert set(status) == {(1, "ab"), (2, "ab"), (3, "shadow")}
    v1, v2, v3 = status[1, "ab"], status[2, "ab"], status[3, "shadow"]
    assert (v1.requests, v1.items, v1.weight) == (100, 200, 0.9)
    assert v1.p50_ms == pytest.approx(50.5)
    assert v1.p95_ms == pytest.approx(95.05)
    assert v1.p99_ms == pytest.approx(99.01)
    assert (v1.feedback, v1.accuracy) == (2, 0.5)  # a0 right, a1 wrong
    assert (v2.requests, v2.p50_ms, v2.p99_ms) == (4, 25.0, pytest.approx(39.7))
    assert (v2.feedback, v2.accuracy, v2.compared, v2.agreement) == (1, 1.0, 0, None)
    assert (v3.requests, v3.items, v3.compared, v3.agreement, v3.weight) == (3, 4, 4, 0.5, None)
    assert (v3.feedback, v3.accuracy) == (2, 1.0)  # what the shadow would have scored
    assert v3.ref == "rt:3"
    everything = {(s.version, s.arm): s for s in reg.ab_status("rt")}  # the old one too
    assert (everything[1, "ab"].requests, everything[1, "ab"].p99_ms) == (101, 100.0)


def test_ab_status_lists_configured_arms_before_any_traffic(reg: Registry) -> None:
    assert reg.ab_status("rt") == []
    reg.start_ab("rt", {1: 0.5, 2: 0.5})
    reg.add_shadow("rt:4")
    status = reg.ab_status("rt")
    assert [(s.version, s.arm, s.requests, s.p50_ms) for s in status] == [
        (1, "ab", 0, None),
        (2, "ab", 0, None),
        (4, "shadow", 0, None),
    ]
    assert all(isinstance(s, ArmStatus) for s in status)
    with pytest.raises(ModelNotFoundError):
        reg.ab_status("ghost")


# ---- retention, fingerprint, deletion ------------------------------------------------------
def test_prune_by_age_and_by_rows_and_drop_orphaned_feedback(reg: Registry) -> None:
    now = datetime.now(UTC)
    reg.log_predictions(
        [_row(f"old{i}", 1, "positive", at=now - timedelta(days=40)) for i in range(3)]
        + [
            _row(f"new{i}", 1, "positive", at=now - timedelta(minutes=i))
            for i in reversed(range(5))
        ]
    )
    reg.add_feedback("old0", "negative")
    reg.add_feedback("new4", "negative")
    assert reg.prune_predictions(max_age_days=None, max_rows=None) == 0
    assert reg.prune_predictions(max_age_days=30) == 3
    assert reg.prune_predictions(max_rows=2) == 3  # the two logged last stay
    assert [p.request_id for p in reg.predictions("rt")] == ["new0", "new1"]
    with reg._engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feedback")).scalar() == 0
    with pytest.raises(DataError, match="max_rows must be an integer >= 0"):
        reg.prune_predictions(max_rows=-1)


def test_serving_state_changes_exactly_when_what_is_served_changes(reg: Registry) -> None:
    _version(reg, "other")
    state = reg.serving_state()
    assert state == reg.serving_state() and "rt:p1/" in state and "other:p0/" in state
    assert reg.serving_state(["rt"]) != state and "other" not in reg.serving_state(["rt"])
    assert reg.serving_state(["ghost"]) == ""
    changes = [
        lambda: promote(reg, "rt:2", "production"),
        lambda: reg.start_ab("rt", {1: 0.5, 2: 0.5}),
        lambda: reg.add_shadow("rt:3"),
        lambda: reg.stop_ab("rt"),
        lambda: _version(reg),
        lambda: delete_version(reg, "rt:4"),
    ]
    seen = {state}
    for change in changes:
        change()
        assert reg.serving_state() not in seen
        seen.add(reg.serving_state())
    reg.log_predictions([_row("r", 2, "positive")])  # traffic is not a change
    reg.add_feedback("r", "positive")
    assert reg.serving_state() in seen


def test_deleting_versions_that_served_keeps_their_log(reg: Registry) -> None:
    reg.log_predictions([_row(f"r{v}", v, "positive") for v in (1, 2, 3, 4)])
    reg.add_feedback("r4", "positive")
    delete_version(reg, "rt:4", reason="superseded")
    delete_version(reg, "rt:1", force=True)  # the production version
    assert sorted(p.version for p in reg.predictions("rt")) == [1, 2, 3, 4]
    assert [s.version for s in reg.ab_status("rt")] == [1, 2, 3, 4]
    for number in (2, 3):  # every version, as `models delete rt` does
        delete_version(reg, f"rt:{number}")
    assert reg.versions("rt") == [] and len(reg.predictions("rt")) == 4


def test_deleting_an_ab_arm_or_a_shadow_needs_force_and_updates_the_routing(
    reg: Registry,
) -> None:
    reg.start_ab("rt", {1: 0.5, 2: 0.25, 3: 0.25})
    reg.add_shadow("rt:4")
    with pytest.raises(RegistryError, match="rt:2 is an arm of the A/B test of rt; take it out"):
        delete_version(reg, "rt:2")
    with pytest.raises(RegistryError, match=r"rt:4 is a shadow of rt; .*ab shadow rt:4 --remove"):
        delete_version(reg, "rt:4")
    before = reg.routing("rt").revision
    delete_version(reg, "rt:4", force=True)
    delete_version(reg, "rt:3", force=True)
    routing = reg.routing("rt")
    assert routing.shadows == () and routing.split == {
        1: pytest.approx(2 / 3),
        2: pytest.approx(1 / 3),
    }
    assert routing.revision == before + 2
    delete_version(reg, "rt:2", force=True)  # one arm left: the test stops
    assert not reg.routing("rt").active
    assert [a for a, _, _ in _events(reg)][-3:] == ["shadow_stop", "ab_change", "ab_stop"]


def _down_and_up(reg: Registry, to: str, check_down: Callable[[Any], None]) -> set[str]:
    """Downgrade ``reg``'s database to revision ``to``, run ``check_down`` on the connection,
    upgrade to head again; returns the columns of ``events`` after the upgrade."""
    from alembic import command
    from alembic.config import Config

    from neuroplast.registry._database import _MIGRATIONS

    with reg._engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes.update(connection=conn)
        command.downgrade(config, to)
        check_down(conn)
        assert conn.execute(text("SELECT version FROM schema_info")).scalar() == int(to)
        command.upgrade(config, "head")
        assert conn.execute(text("SELECT version FROM schema_info")).scalar() == 5
        return {c["name"] for c in inspect(conn).get_columns("events")}


def test_0004_downgrades_and_upgrades_again(open_registry: OpenRegistry) -> None:
    reg = open_registry()
    _version(reg)
    reg.log_predictions([_row("r", 1, "positive")])

    def down(conn: Any) -> None:
        tables = set(inspect(conn).get_table_names())
        assert not tables & {"predictions", "feedback", "routing"} and "versions" in tables

    _down_and_up(reg, "0003", down)
    assert reg.predictions("rt") == [] and reg.routing("rt").revision == 0


def test_0005_downgrades_and_upgrades_again(open_registry: OpenRegistry) -> None:
    reg = open_registry()
    _version(reg)
    reg.log_predictions([_row("r", 1, "positive")])

    def down(conn: Any) -> None:
        tables = set(inspect(conn).get_table_names())
        assert not tables & {"drift_checks", "embeddings", "embedding_stats"}
        assert "details" not in {c["name"] for c in inspect(conn).get_columns("events")}

    assert "details" in _down_and_up(reg, "0004", down)
    assert len(reg.predictions("rt")) == 1
