"""Train -> evaluate -> generate -> load again, on 120 real fortunes in a text file; and the
bad inputs a user can give on the way, each one clear line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from neuroplast.config import parse_run_config, template_text
from neuroplast.errors import ArtifactError, DataError
from neuroplast.registry import Registry
from neuroplast.tasks import TaskResult, task_handler
from neuroplast.tasks.generation.versions import ONNX_STEP, TOKENIZER, load_lm
from tests.conftest import one_torch_thread

# the module's one training run (and the first import of lightning_fabric): 10-15 s here
pytestmark = pytest.mark.slow


def tiny_config(text_file: Path, **generation: Any) -> dict[str, Any]:
    raw = yaml.safe_load(template_text("textgen-gpt"))
    raw["name"] = "quotes-gpt"
    raw["data"] = {"path": str(text_file), "val_fraction": 0.1, "test_fraction": 0.1}
    raw["generation"] = {"tokenizer": "char", "context": 32, "ngram_order": 3, **generation}
    raw["model"] = {"architecture": "gpt", "d_model": 16, "n_layers": 1, "n_heads": 2}
    raw["train"].update(epochs=2, batch_size=8, accelerator="cpu")
    raw["train"]["optimizer"]["lr"] = 0.01
    return raw


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, fortunes_slice: list[str]
) -> tuple[Registry, TaskResult]:
    """One training run for the module (the registry is read, never changed, by its tests)."""
    folder = tmp_path_factory.mktemp("gen")
    text_file = folder / "quotes.txt"
    text_file.write_text("\n\n".join(d.replace("\n\n", "\n") for d in fortunes_slice))
    with one_torch_thread():
        registry = Registry(folder / "home")
        config = parse_run_config(tiny_config(text_file))
        return registry, task_handler("generation").train(config, registry)


def test_train_evaluate_generate_and_load_again(trained, cli: Callable[..., Any]) -> None:
    registry, result = trained
    m = result.metrics
    assert result.version.ref == "quotes-gpt:1" and m["tokenizer"] == "char"
    assert 1 < m["test_perplexity"] < 40  # learned something over ~70 characters
    assert m["baseline_test_perplexity"] > 1 and m["onnx_step"] is True
    assert {TOKENIZER, ONNX_STEP, "weights.safetensors", "model.json"} <= set(
        result.version.artifacts
    )
    home = ["--home", str(registry.home)]
    again = cli("evaluate", "quotes-gpt", *home, "--json")  # the task's own metrics
    assert again.code == 0, again.err
    figures = json.loads(again.out)
    assert figures["metrics"]["perplexity"] == pytest.approx(m["test_perplexity"], rel=1e-4)
    assert figures["baseline"]["kneser_ney_order"] == 3

    args = [
        "generate",
        "quotes-gpt",
        *home,
        "--prompt",
        "The ",
        "--max-tokens",
        "30",
        "--seed",
        "1",
    ]
    first = cli(*args)
    assert first.code == 0, first.err
    assert first.out.startswith("The ") and len(first.out) > len("The \n")
    assert cli(*args).out == first.out  # the same seed, the same text
    payload = json.loads(cli(*args, "--no-cache", "--json").out)
    assert "The " + payload["text"] + "\n" == first.out  # the KV cache changes nothing


def test_a_version_loads_back_verified(trained) -> None:
    registry = trained[0]
    lm = load_lm(registry, "quotes-gpt")  # weights, tokenizer and model.json, hashes checked
    stream = [0, *lm.tokenizer.encode("A friend")]
    before = task_handler("generation").evaluate(registry, "quotes-gpt", split="val")
    assert before.metrics["val_perplexity"] > 1 and lm.context == 32
    assert lm.tokenizer.decode(stream[1:]) == "A friend"
    tokenizer = Path(lm.version.artifact_dir) / TOKENIZER
    original = tokenizer.read_bytes()
    tokenizer.write_text("{}")
    try:
        with pytest.raises(ArtifactError, match="does not match its recorded sha256"):
            load_lm(registry, "quotes-gpt:1")
    finally:
        tokenizer.write_bytes(original)


def test_bad_prompts_and_sampling_values_are_one_clear_line(trained, cli) -> None:
    home = ["--home", str(trained[0].home)]
    result = cli("generate", "quotes-gpt", *home, "--prompt", "\u4e2d\u6587")
    assert result.code != 0 and result.out == ""
    assert "has no character this model knows" in result.err
    result = cli("generate", "quotes-gpt", *home, "--top-p", "1.5")
    assert result.code == 2 and "--top-p 1.5: must be in (0, 1]" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_an_empty_text_file_stops_training_before_the_registry(home: Path, tmp_path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    registry = Registry(home)
    config = parse_run_config(tiny_config(empty))
    with pytest.raises(DataError, match=r"empty\.txt holds no text"):
        task_handler("generation").train(config, registry)
    assert registry.list_models() == []


def test_predict_writes_one_text_per_prompt(trained, tmp_path: Path) -> None:
    registry = trained[0]
    handler = task_handler("generation")
    done = handler.predict(registry, "quotes-gpt", inputs=["A ", "The "], max_tokens=12, seed=4)
    assert [o["prompt"] for o in done.document["outputs"]] == ["A ", "The "]
    assert done.lines[0].startswith("A ") and len(done.lines) == 2
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("A \n\nThe \n")
    again = handler.predict(registry, "quotes-gpt", file=prompts, max_tokens=12, seed=4)
    assert again.document["outputs"] == done.document["outputs"]  # the same seed
