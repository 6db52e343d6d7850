"""`neuroplast ab start | shadow | status | stop` as a user runs them: the flow with its
tables, JSON and audit trail, and every bad input as one clear line with its exit code and
the routing left as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from neuroplast.registry import Registry, history, promote
from neuroplast.registry.artifacts import atomic_write_json
from tests.conftest import Result

Cli = Callable[..., Result]


@pytest.fixture()
def rt(home: Path) -> Path:
    """``rt`` with versions 1-3 (labels negative, positive), version 1 in production."""
    with Registry(home) as reg:
        for _ in range(3):
            v = reg.create_version("rt", architecture="cnn", task="t", modality="text", config={})
            path = v.artifact_dir / "model.json"
            sha = atomic_write_json(path, {"label_names": ["negative", "positive"]})
            reg.finalize_version(v.id, files={"model.json": (path, sha)}, params_count=1)
        promote(reg, "rt:1", "production")
    return home


def _log(home: Path) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "request_id": f"r{i}",
            "item": 0,
            "model": "rt",
            "version": version,
            "arm": arm,
            "at": now - timedelta(seconds=i),
            "input_text": "a witty film",
            "label": label,
            "probability": 0.9,
            "top_k": [[label, 0.9]],
            "latency_ms": 4.0 + i,
        }
        for i in range(4)
        for version, arm, label in ((1 + i % 2, "ab", "positive"), (3, "shadow", "negative"))
    ]
    with Registry(home) as reg:
        reg.log_predictions(rows)
        reg.add_feedback("r0", "positive")


def test_start_shadow_status_and_stop_with_promote(cli: Cli, rt: Path) -> None:
    started = cli("ab", "start", "rt", "--split", "1:0.9,2:0.1", "--sticky-key", "user_id")
    assert started.code == 0, started.err
    assert "rt: A/B test 1:0.9,2:0.1, sticky by user_id (routing revision 1)" in started.out
    shadowed = cli("ab", "shadow", "rt:3", "--reason", "new tokenizer", "--json")
    assert shadowed.code == 0 and json.loads(shadowed.out)["shadows"] == ["rt:3"]
    _log(rt)

    table = cli("ab", "status", "rt")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert (
        lines[0]
        == "rt: A/B test 1:0.9,2:0.1, sticky by user_id; shadows: rt:3 (routing revision 2)"
    )
    assert "version  arm     weight  requests  p50 ms" in lines[2]
    assert lines[3].split() == ["rt:1", "ab", "0.9", "2", "5.0", "5.9", "6.0", "-", "1.000", "(1)"]
    assert lines[5].split()[:8] == ["rt:3", "shadow", "-", "4", "5.5", "6.8", "7.0", "0.000"]

    status = json.loads(cli("ab", "status", "rt", "--since", "1h", "--json").out)
    assert status["routing"]["split"] == {"1": 0.9, "2": 0.1} and status["since"]
    arms = {(a["version"], a["arm"]): a for a in status["arms"]}
    assert arms[2, "ab"]["requests"] == 2 and arms[3, "shadow"]["agreement"] == 0.0
    assert arms[3, "shadow"]["compared"] == 4 and arms[1, "ab"]["accuracy"] == 1.0

    stopped = cli("ab", "stop", "rt", "--promote", "2", "--reason", "v2 wins")
    assert stopped.code == 0, stopped.err
    assert "rt: A/B test stopped; rt:2 is production now" in stopped.out
    assert "shadows: rt:3" in stopped.out
    assert cli("ab", "shadow", "rt:3", "--remove").code == 0
    with Registry(rt) as reg:
        assert reg.resolve("rt@production").version == 2
        actions = [e.action for e in history(reg, "rt")]
    assert actions[-5:] == ["shadow_start", "archive", "promote", "ab_stop", "shadow_stop"]
    assert "ab_start" in actions


def test_status_of_a_model_without_traffic_says_so(cli: Cli, rt: Path) -> None:
    done = cli("ab", "status", "rt", "--since", "2026-12-01T09:00")
    assert done.code == 0 and done.err == ""
    assert done.out.splitlines() == [
        "rt: no A/B test (the production version answers) (routing revision 0)",
        "no predictions logged for rt since 2026-12-01 09:00 UTC",
    ]
    as_json = json.loads(cli("ab", "status", "rt", "--json").out)
    assert as_json["arms"] == [] and as_json["routing"]["active"] is False


BAD = [
    (["start", "rt", "--split", "1=0.9,2=0.1"], 2, "'1=0.9' is not VERSION:WEIGHT"),
    (["start", "rt", "--split", "1:0.9,2:0.2"], 2, "weights 1:0.9,2:0.2 sum to 1.1, not 1"),
    (["start", "rt", "--split", "1:1"], 2, "needs at least two versions, got 1:1"),
    (["start", "rt", "--split", "1:0.5,2:0"], 2, "the weight of version 2 is 0.0"),
    (["start", "rt", "--split", "1:1.5,2:-0.5"], 2, "the weight of version 2 is -0.5"),
    (["start", "rt", "--split", "1:0.5,1:0.5"], 2, "names version 1 twice"),
    (["start", "rt", "--split", "1:0.5,9:0.5"], 4, "rt:9 is not a ready version of rt; its"),
    (["start", "ghost", "--split", "1:0.5,2:0.5"], 4, "no model named 'ghost'; models: rt"),
    (["start", "rt:1", "--split", "1:0.5,2:0.5"], 4, "name the model ('rt'), not a version"),
    (["start", "rt", "--split", "1:0.5,2:0.5", "--sticky-key", "a b"], 2, "not a field name"),
    (["start", "rt"], 2, "Missing option '--split'"),
    (["shadow", "rt:1"], 2, "rt:1 answers rt's requests (its production version)"),
    (["shadow", "rt"], 2, "name a version: rt:N"),
    (["shadow", "rt:7"], 4, "rt:7 is not a ready version of rt; its versions: 1, 2, 3"),
    (["shadow", "rt:2", "--remove"], 2, "rt:2 is not a shadow of rt; its shadows: none"),
    (["status", "rt", "--since", "yesterday"], 2, "Invalid value for '--since': 'yesterday'"),
    (["status", "ghost"], 4, "no model named 'ghost'"),
    (["stop", "rt"], 5, "rt has no A/B test running; start one with `neuroplast ab start rt"),
    (["stop", "rt", "--promote", "0"], 2, "Invalid value for '--promote'"),
    (["stop", "ghost"], 4, "no model named 'ghost'"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_line_and_changes_nothing(
    cli: Cli, rt: Path, args: list[str], code: int, message: str
) -> None:
    done = cli("ab", *args)
    assert done.code == code, done.err
    assert done.out == "" and len(done.err.splitlines()) == 1, done.err
    assert done.err.startswith("error: ") and message in done.err
    with Registry(rt) as reg:
        assert reg.routing("rt").revision == 0


def test_stop_promoting_a_version_outside_the_test_is_refused(cli: Cli, rt: Path) -> None:
    assert cli("ab", "start", "rt", "--split", "1:0.5,2:0.5").code == 0
    done = cli("ab", "stop", "rt", "--promote", "3")
    assert done.code == 2
    assert "--promote 3: the A/B test of rt runs versions 1, 2; promote one of them" in done.err
    with Registry(rt) as reg:
        assert reg.routing("rt").active and reg.resolve("rt@production").version == 1


def test_the_engine_takes_a_split_as_text_or_mapping_and_since_as_time_ago(rt: Path) -> None:
    from neuroplast import Engine

    with Engine(rt) as engine:
        assert engine.ab_start("rt", "1:0.75,2:0.25").split == {1: 0.75, 2: 0.25}
        assert engine.ab_start("rt", {2: 0.5, 3: 0.5}, reason="ramp").split == {2: 0.5, 3: 0.5}
        assert engine.ab_shadow("rt:1").shadows == (1,)  # production, but not answering now
        _log(rt)
        assert {s.version for s in engine.ab_status("rt", since=timedelta(hours=1))} == {1, 2, 3}
        later = engine.ab_status("rt", since=datetime.now(UTC) + timedelta(hours=1))
        assert [(s.version, s.arm, s.requests) for s in later] == [
            (2, "ab", 0),
            (3, "ab", 0),
            (1, "shadow", 0),
        ]
        assert engine.ab_shadow("rt:1", remove=True).shadows == ()
        assert not engine.ab_stop("rt", promote=3).active
        assert engine.registry.resolve("rt@production").version == 3
