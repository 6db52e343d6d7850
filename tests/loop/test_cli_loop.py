"""``neuroplast loop``, ``init --template loop`` and ``models history``'s event details, as a
user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml
from tests.conftest import Result
from tests.loop.conftest import MODEL, log_traffic, reviews

from neuroplast.engine import Engine
from neuroplast.loop import LoopPolicy

Cli = Callable[..., Result]


def test_init_writes_a_policy_the_loop_reads(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", "--template", "loop")
    assert result.code == 0
    assert LoopPolicy.model_validate(yaml.safe_load(result.out)) == LoopPolicy()
    assert cli("init", "--template", "loop", "-o", str(tmp_path / "loop.yaml")).code == 0
    assert (tmp_path / "loop.yaml").read_text() == result.out


def test_loop_dry_run_json_then_a_step_and_its_details_in_the_history(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    home = str(engine.home)
    policy = tmp_path / "loop.yaml"
    policy.write_text("trigger:\n  window: 50\nfeedback:\n  since: all\n")
    texts, labels = reviews(100)
    log_traffic(engine, 1, texts, labels)
    args = ("loop", MODEL, "--policy", str(policy), "--home", home)

    dry = cli(
        *args,
        "--dry-run",
        "--json",
        "--set",
        "feedback.min_labelled=500",
        "--set",
        "trigger.always=true",
    )
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    assert report["dry_run"] is True and report["outcome"] == "waiting"
    assert report["decisions"][0]["details"]["feedback"]["labelled"] == 100
    assert report["decisions"][0]["reason"] == (
        "trigger.always is on; waiting for feedback: 100 of 500 labelled inputs "
        "(feedback.min_labelled)"
    )

    engine.ab_start(MODEL, "1:0.9,2:0.1")  # an A/B test the loop did not start
    step = cli(*args)
    assert step.code == 0, step.err
    assert "loop rt-serve: waiting" in step.out and "the loop did not start" in step.out
    trail = cli("models", "history", MODEL, "--home", home)
    assert trail.code == 0
    assert 'loop_wait: {"code": "foreign_ab"' in trail.out


def test_bad_policy_and_unknown_model_exit_with_one_line(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    policy = tmp_path / "loop.yaml"
    policy.write_text("rollout:\n  mode: canary\n")
    bad = cli("loop", MODEL, "--policy", str(policy), "--home", str(engine.home))
    assert bad.code == 2 and bad.err.count("\n") == 1
    assert "rollout.mode: Input should be 'ab', 'shadow' or 'direct'" in bad.err
    policy.write_text("")
    unknown = cli("loop", "nope", "--policy", str(policy), "--home", str(engine.home))
    assert unknown.code == 4 and "models: fm-serve, rt-serve" in unknown.err
    override = cli("loop", MODEL, "--policy", str(policy), "--set", "update=naive")
    assert override.code == 2 and "name a key as SECTION.KEY" in override.err
