"""The continual commands as library calls: run one composed strategy on a stream config
(and register its model), compare several on the same stream and seeds, update a
registered model with new data.

``Engine.continual_run`` / ``continual_compare`` / ``continual_update`` and
``neuroplast continual run | compare | update`` call these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from neuroplast.continual.config import ContinualConfig, load_continual_config
from neuroplast.continual.workflow import ContinualOutcome, run_continual

if TYPE_CHECKING:
    from neuroplast.continual.runner import RunResult, StrategySummary
    from neuroplast.continual.streams import Stream
    from neuroplast.registry import Registry

__all__ = ["Comparison", "compare_strategies", "continual_config", "run_name", "run_strategies"]

ConfigSource = ContinualConfig | str | Path


@dataclass(frozen=True)
class Comparison:
    """Several strategies on one stream: one summary per strategy (set), over ``seeds``."""

    stream: Stream
    seeds: list[int]
    summaries: list[StrategySummary]


def continual_config(config: ConfigSource, overrides: Sequence[str] = ()) -> ContinualConfig:
    """A stream config from a YAML path (with ``--set``-style ``overrides``) or as given."""
    if isinstance(config, ContinualConfig):
        return config
    return load_continual_config(config, list(overrides))


def run_name(cfg: ContinualConfig, strategies: Sequence[str], name: str | None) -> str:
    """``name``, else the config's name, with the strategies in it when they differ from
    the config's: ``split-mnist-replay`` run with ``replay+lwf`` is ``split-mnist-replay-lwf``."""
    if name:
        return name
    if list(strategies) == cfg.strategies:
        return cfg.name
    base = cfg.name.removesuffix("-" + "-".join(cfg.strategies))
    return f"{base}-{'-'.join(strategies)}"


def run_strategies(
    config: ConfigSource,
    registry: Registry | None,
    *,
    overrides: Sequence[str] = (),
    strategies: Sequence[str] | None = None,
    name: str | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> ContinualOutcome:
    """Train task by task with ``strategies`` composed (default: the config's) over the
    config's seeds; register the first seed's model in ``registry`` (when given) under
    ``name`` (default: :func:`run_name`)."""
    cfg = continual_config(config, overrides)
    chosen = list(strategies) if strategies else list(cfg.strategies)
    cfg = cfg.model_copy(update={"name": run_name(cfg, chosen, name)})
    sets = [chosen] if strategies else None
    return run_continual(cfg, registry, strategy_sets=sets, on_run=on_run)


def compare_strategies(
    config: ConfigSource,
    strategy_sets: Sequence[Sequence[str]],
    *,
    overrides: Sequence[str] = (),
    on_run: Callable[[RunResult], None] | None = None,
) -> Comparison:
    """Every strategy set (``[["naive"], ["replay", "lwf"]]``) on the same stream and seeds;
    nothing is registered. Unknown strategy names are refused before anything runs."""
    from neuroplast.continual.runner import summarise
    from neuroplast.continual.strategies import check_strategies

    cfg = continual_config(config, overrides)
    for names in strategy_sets:
        check_strategies(list(names))
    stream, summaries = summarise(cfg, strategy_sets, on_run=on_run)
    return Comparison(stream, list(cfg.seeds), summaries)
