from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from neuroplast.config import (
    TEMPLATES,
    apply_overrides,
    load_run_config,
    parse_run_config,
    template_text,
)
from neuroplast.errors import ConfigError
from tests.conftest import small_text_config


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_is_a_valid_config(name: str) -> None:
    config = parse_run_config(yaml.safe_load(template_text(name)), where=name)
    assert config.architecture.startswith("image") == name.startswith("image")


def test_unknown_top_level_and_nested_keys_are_rejected_with_the_accepted_keys() -> None:
    raw = small_text_config()
    raw["train"]["epoch"] = 3
    with pytest.raises(
        ConfigError, match=r"unknown key 'train.epoch'.*accepted keys there:.*epochs"
    ):
        parse_run_config(raw)
    raw = small_text_config()
    raw["colour"] = "blue"
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        parse_run_config(raw)


def test_unknown_architecture_key_lists_the_accepted_ones() -> None:
    raw = small_text_config()
    raw["model"]["num_filter"] = 3
    with pytest.raises(ConfigError, match=r"num_filter.*num_filters"):
        parse_run_config(raw)


def test_bad_values_and_missing_sections_are_explained() -> None:
    raw = small_text_config()
    raw["train"]["optimizer"] = {"name": "rmsprop"}
    with pytest.raises(ConfigError, match=r"train.optimizer.name"):
        parse_run_config(raw)
    raw = small_text_config()
    raw["data"] = {"dataset": "rotten_tomatoes", "path": "x.csv"}
    with pytest.raises(ConfigError, match=r"exactly one of data\.dataset"):
        parse_run_config(raw)
    raw = small_text_config()
    del raw["model"]["architecture"]
    with pytest.raises(ConfigError, match=r"model\.architecture is missing"):
        parse_run_config(raw)


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "x" * 101, ".hidden"])
def test_model_names_that_could_escape_the_home_are_refused(name: str) -> None:
    raw = small_text_config(name=name)
    with pytest.raises(ConfigError, match="not a valid model name"):
        parse_run_config(raw)


def test_overrides_are_parsed_as_yaml_and_validated() -> None:
    raw = small_text_config()
    out = apply_overrides(raw, ["train.epochs=3", "model.dropout=0.2", "train.optimizer.name=sgd"])
    config = parse_run_config(out)
    assert config.train.epochs == 3
    assert config.model["dropout"] == 0.2
    assert config.train.optimizer.name == "sgd"
    assert raw["train"]["epochs"] == 2, "the caller's mapping must not be mutated"
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides(raw, ["train.epochs"])
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides(raw, ["name.x=1"])


def test_load_run_config_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found: create one with `neuroplast init`"):
        load_run_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_run_config(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_run_config(top)


def test_unknown_template_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="text-cnn"):
        template_text("text-rnn")
