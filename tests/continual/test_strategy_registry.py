"""The strategy registry drives these tests: every registered strategy is built from its
typed options, and a new strategy is one decorated class."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from neuroplast.continual.config import StrategyOptions
from neuroplast.continual.strategies import (
    EWC,
    Plugin,
    _registry,
    check_strategies,
    create_plugins,
    list_strategies,
    register_strategy,
)
from neuroplast.errors import ConfigError


@pytest.mark.parametrize("name", list_strategies())
def test_every_strategy_is_built_by_name(name: str) -> None:
    (plugin,) = create_plugins([name], StrategyOptions(), seed=0)
    assert isinstance(plugin, Plugin) and plugin.name == name
    assert type(plugin) is _registry._STRATEGIES[name].cls


def test_options_reach_the_plugin() -> None:
    options = StrategyOptions.model_validate(
        {"ewc": {"lambda": 7.0, "fisher_samples": 3, "anchor": "latest"}, "si": {"c": 2.5}}
    )
    ewc, si = create_plugins(["ewc", "si"], options)
    assert isinstance(ewc, EWC)
    assert (ewc.strength, ewc.fisher_samples, ewc.anchor) == (7.0, 3, "latest")
    assert si.c == 2.5  # type: ignore[attr-defined]


def test_unknown_strategy_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'ewk'; choose from ") as info:
        check_strategies(["ewk"])
    assert all(n in str(info.value) for n in list_strategies())


@pytest.fixture()
def new_strategy() -> Iterator[str]:
    @register_strategy("test_noop", alone=True)
    class NoOp(Plugin):
        pass

    yield "test_noop"
    del _registry._STRATEGIES["test_noop"]


def test_a_new_strategy_is_one_decorated_class(new_strategy: str) -> None:
    assert new_strategy in list_strategies()
    (plugin,) = create_plugins([new_strategy], StrategyOptions())
    assert plugin.name == new_strategy
    with pytest.raises(ConfigError, match="baseline"):
        check_strategies([new_strategy, "ewc"])


def test_one_set_of_strategy_defaults_in_the_code_the_options_and_the_template() -> None:
    """``init --template continual`` writes the options' defaults, and a plugin built with
    no options has the same values as one built from the default options."""
    import inspect

    import yaml

    from neuroplast.config import template_text

    defaults = StrategyOptions().model_dump(by_alias=True)
    written = yaml.safe_load(template_text("continual"))["options"]
    for strategy, values in written.items():
        for key, value in values.items():
            assert defaults[strategy][key] == value, (strategy, key)
    for name in list_strategies():
        spec = _registry._STRATEGIES[name]
        if spec.options is None:
            continue
        options = StrategyOptions().model_dump()[spec.options]
        params = inspect.signature(spec.cls.__init__).parameters
        for key, value in options.items():
            if key in params:
                assert params[key].default == value, (name, key)
