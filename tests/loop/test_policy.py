"""``loop.yaml``: the template loads as the defaults, and every kind of bad file fails at
once with the key, what was wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from neuroplast.errors import ConfigError
from neuroplast.loop import LoopPolicy, load_policy, policy_template


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loop.yaml"
    path.write_text(text)
    return path


def test_the_template_is_the_defaults_and_names_every_key() -> None:
    raw = yaml.safe_load(policy_template())
    assert LoopPolicy.model_validate(raw) == LoopPolicy()
    for section, model in LoopPolicy.model_fields.items():
        assert set(raw[section]) == set(model.annotation.model_fields), section  # type: ignore[union-attr]


def test_an_empty_file_and_overrides(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, ""), {"update.strategy": "replay + lwf"})
    assert policy.update.strategies == ["replay", "lwf"]
    assert policy.rollout.max_age.total_seconds() == 24 * 3600
    assert load_policy(policy) is policy


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "gate:\n  max_old_dorp: 0.02\n",
            r"unknown key 'gate.max_old_dorp' \(known here: max_old_drop, min_gain, min_holdout\)",
        ),
        (
            "gates:\n  max_old_drop: 0.02\n",
            r"unknown key 'gates' \(known here: decide, feedback, gate",
        ),
        ("rollout:\n  mode: canary\n", r"rollout.mode: Input should be 'ab', 'shadow' or 'direct'"),
        (
            "rollout:\n  candidate_share: 1.5\n",
            r"rollout.candidate_share: Input should be less than 1",
        ),
        (
            "feedback:\n  min_labelled: '200'\n",
            r"feedback.min_labelled: Input should be a valid integer",
        ),
        (
            "update:\n  strategy: replay+dreams\n",
            r"update.strategy: unknown strategy 'dreams'; choose from",
        ),
        ("rollout:\n  max_duration: 2 days\n", r"rollout.max_duration: '2 days' is not a duration"),
        (
            "trigger:\n  detectors: [features, vibes]\n",
            r"trigger.detectors.1: Input should be 'features'",
        ),
        ("trigger: 3\n", r"trigger: expected a section of keys"),
        ("- ab\n- shadow\n", r"expected sections \(trigger:, feedback:"),
        ("gate: {max_old_drop: [\n", r"is not valid YAML"),
    ],
)
def test_bad_policy_files_say_which_key_and_how_to_fix_it(
    tmp_path: Path, text: str, match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        load_policy(write(tmp_path, text))
    assert str(tmp_path / "loop.yaml") in str(caught.value)


def test_a_missing_file_and_bad_overrides(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist; write one with `neuroplast init"):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"name a key as SECTION.KEY"):
        load_policy(LoopPolicy(), {"strategy": "naive"})
    with pytest.raises(ConfigError, match=r"unknown key 'update.epoch'"):
        load_policy(LoopPolicy(), {"update.epoch": 3})
