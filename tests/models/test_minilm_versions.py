"""What the registry's other verbs do with MiniLM versions that store only what trained."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from neuroplast.inference.bundle import ModelMeta
from neuroplast.models import create_model
from neuroplast.models.minilm import minilm_vocabulary
from neuroplast.registry import Registry
from neuroplast.workflows.register import reserve_version
from tests.conftest import Result


def _register(home: Path, finetune: str) -> str:
    model = create_model("minilm", {"num_classes": 2, "finetune": finetune}).eval()
    meta = ModelMeta(
        architecture="minilm",
        modality="text",
        task="text_classification",
        arch_config=model.config.model_dump(mode="json"),
        label_names=["neg", "pos"],
        preprocessing={"max_length": 64, "min_length": 1},
        name=f"rt-{finetune}",
    )
    draft = reserve_version(Registry(home), meta, config={"test": True}, source="api")
    draft.save_model(model, minilm_vocabulary())
    return draft.finalize(model, metrics={}).ref


@pytest.mark.slow  # builds MiniLM twice: 3-7 s each
@pytest.mark.parametrize("finetune", ["head", "lora"])
def test_prune_is_refused_on_head_and_lora_versions(
    cli: Callable[..., Result], home: Path, finetune: str
) -> None:
    ref = _register(home, finetune)
    result = cli("compress", ref, "--prune", "0.3")
    assert result.code == 2, result.err
    assert f"--prune does not apply to minilm versions trained with finetune: {finetune}" in (
        result.err
    )
    assert "--quantize dynamic" in result.err
    assert [v.ref for v in Registry(home).versions(f"rt-{finetune}")] == [ref]  # nothing added
