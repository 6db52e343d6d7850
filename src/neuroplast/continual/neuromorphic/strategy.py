"""The name ``neuromorphic`` in the strategy registry, so that ``continual compare
--strategies naive,replay,neuromorphic`` accepts it. It is no plugin on the training loop:
:func:`neuroplast.continual.runner.run_strategy` hands the stream to
:func:`neuroplast.continual.neuromorphic.stream_run.run_neuromorphic` instead."""

from __future__ import annotations

from neuroplast.continual.strategies._registry import register_strategy
from neuroplast.continual.strategies.base import Plugin

__all__ = ["Neuromorphic"]


@register_strategy("neuromorphic", alone=True)
class Neuromorphic(Plugin):
    """Concept prototypes recalled by a spiking attractor memory (its own learner)."""
