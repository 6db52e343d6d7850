"""The closed loop: a served model that notices drift, learns from its feedback without
forgetting, proves itself behind a gate and in an A/B test, and is promoted or rolled back,
every decision on the audit trail. ``neuroplast loop MODEL --policy loop.yaml``.

Names load on first use: the policy and the rules import no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from neuroplast.loop.policy import LoopPolicy, load_policy, policy_template
    from neuroplast.loop.report import Decision, LoopReport
    from neuroplast.loop.rules import ArmNumbers, Verdict, gate_verdict, rollout_verdict
    from neuroplast.loop.run import run_loop

__all__ = [
    "ArmNumbers",
    "Decision",
    "LoopPolicy",
    "LoopReport",
    "Verdict",
    "gate_verdict",
    "load_policy",
    "policy_template",
    "rollout_verdict",
    "run_loop",
]

_HOMES = {
    "ArmNumbers": "neuroplast.loop.rules",
    "Decision": "neuroplast.loop.report",
    "LoopPolicy": "neuroplast.loop.policy",
    "LoopReport": "neuroplast.loop.report",
    "Verdict": "neuroplast.loop.rules",
    "gate_verdict": "neuroplast.loop.rules",
    "load_policy": "neuroplast.loop.policy",
    "policy_template": "neuroplast.loop.policy",
    "rollout_verdict": "neuroplast.loop.rules",
    "run_loop": "neuroplast.loop.run",
}

__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
