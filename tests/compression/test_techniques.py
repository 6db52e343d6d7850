"""The technique registry: read without torch, options checked at the boundary, and a
technique registered in one place runs by name and under ``--all``, measured in the table and
registered as a new version."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neuroplast.compression import (
    Candidate,
    CompressionTechnique,
    CompressJob,
    TechniqueOptions,
    get_technique,
    list_techniques,
    register_technique,
    techniques_help,
)
from neuroplast.compression import _registry as registry
from neuroplast.compression.optimizer import plan_techniques
from neuroplast.engine import Engine
from neuroplast.errors import ConfigError


def test_the_registry_loads_without_torch() -> None:
    code = (
        "import sys; from neuroplast.compression import list_techniques, techniques_help; "
        "assert list_techniques() == ('dynamic', 'static', 'prune', 'distill'); "
        "assert techniques_help(); assert 'torch' not in sys.modules, 'torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_keywords_plan_the_built_in_techniques() -> None:
    assert list_techniques(quantization=True) == ("dynamic", "static")
    for name in list_techniques():
        assert f"{name}: " in techniques_help()
    every = plan_techniques(all_techniques=True, prune=0.3, finetune_epochs=2)
    assert [(s.technique.name, s.explicit) for s in every] == [
        ("dynamic", False),
        ("static", False),
        ("prune", True),
        ("distill", False),
    ]
    prune = every[2].options
    assert (prune.amount, prune.structured, prune.finetune_epochs) == (0.3, False, 2)
    assert plan_techniques(all_techniques=True)[2].options.amount == 0.5
    named = plan_techniques(quantize="static", techniques={"prune": {"structured": True}})
    assert [(s.technique.name, s.options.model_dump()) for s in named] == [
        ("static", {}),
        ("prune", {"amount": 0.5, "structured": True, "finetune_epochs": None}),
    ]


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"quantize": "fp16"}, "--quantize must be dynamic or static, not 'fp16'"),
        ({}, r"nothing to do: choose --quantize dynamic\|static, --prune AMOUNT"),
        ({"distill_from": "t", "alpha": 2.0}, r"alpha .* must be in \[0, 1\], got 2.0"),
        ({"techniques": {"nope": {}}}, "unknown compression technique 'nope'; choose one of dyn"),
        (
            {"techniques": {"prune": {"amount": 0.3, "ratio": 1}}},
            r"'prune': ratio: Extra inputs are not permitted \(it takes amount, structured",
        ),
        ({"techniques": {"prune": {"amount": "half"}}}, "'prune': amount: Input should be"),
    ],
)
def test_bad_requests_say_what_was_wrong(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_techniques(**keywords)


def test_a_technique_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="compression technique 'prune' is already registered"):
        register_technique("prune", help="again")(CompressionTechnique)
    assert get_technique("prune").options.model_fields.keys() == {
        "amount",
        "structured",
        "finetune_epochs",
    }


class HalfOptions(TechniqueOptions):
    scale: float = 0.5


@pytest.fixture()
def halved() -> Iterator[str]:
    """A technique registered as a plugin would be: the parent's classifier (weights and
    bias) scaled by ``scale``, so the logits shrink and the labels stay. Removed afterwards."""
    list_techniques()  # the built-in ones first
    saved = dict(registry._TECHNIQUES)

    @register_technique("halve", rank=50, options=HalfOptions, help="weights scaled down")
    class Halve(CompressionTechnique):
        def candidates(self, job: CompressJob, options: HalfOptions) -> list[Candidate]:
            import copy

            import torch

            from neuroplast.compression.candidate import state_bytes, with_model
            from neuroplast.inference.predictor import Predictor

            model = copy.deepcopy(job.loaded.model)
            with torch.no_grad():
                for parameter in model.classifier.parameters():
                    parameter.mul_(options.scale)
            return [
                Candidate(
                    technique=f"halved x{options.scale}",
                    model=model,
                    predictor=Predictor(with_model(job.loaded, model)),
                    size_bytes=state_bytes(model),
                    options={"scale": options.scale},
                )
            ]

    yield "halve"
    registry._TECHNIQUES.clear()
    registry._TECHNIQUES.update(saved)


def test_a_registered_technique_runs_by_name_and_under_all(trained_home: Path, halved: str) -> None:
    assert list_techniques()[-2:] == ("distill", halved)  # rank 50: listed last
    with Engine(trained_home) as engine:
        outcome = engine.optimizer.compress("rt-small:1", techniques={halved: {"scale": 0.25}})
        assert [row["technique"] for row in outcome.table] == ["fp32 (parent)", "halved x0.25"]
        assert outcome.table[1]["accuracy"] == outcome.table[0]["accuracy"]  # same labels
        (version,) = outcome.versions
        assert version.config["compression"]["technique"] == "halved x0.25"
        assert version.config["compression"]["scale"] == 0.25
        assert version.parent_id == outcome.parent.id
        every = engine.optimizer.compress("rt-small:1", all_techniques=True, if_better=True)
        techniques = [row["technique"] for row in every.table]
        assert "halved x0.5" in techniques
        assert techniques.index("halved x0.5") > techniques.index("dynamic int8")
        assert "distillation skipped: give --distill-from TEACHER" in every.notes
        assert "static int8 skipped: it applies to the image CNN / MLP paths" in every.notes
