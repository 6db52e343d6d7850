"""The Engine methods behind the CLI's commands: the CLI prints what these return."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neuroplast import Engine
from neuroplast.errors import ConfigError
from tests.conftest import one_torch_thread, small_image_config, small_text_config

TEXTS = ["a gorgeous, witty, moving film", "a tedious, joyless mess"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A registry with a text CNN (rt-small) and an image MLP (digits-mlp), trained on real
    data."""
    home = tmp_path_factory.mktemp("engine-commands")
    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_text_config(epochs=2))
        engine.train(small_image_config(epochs=2))
        yield engine


def test_the_registry_opens_on_first_use(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Engine(home):
        pass
    assert not home.exists()  # continual compare / reproduce never create a home
    with Engine(home) as engine:
        assert engine.home == home.absolute() and (home / "registry.db").is_file()


def test_predict_on_another_backend_agrees_with_torch(engine: Engine) -> None:
    torch_ = engine.predict("rt-small", TEXTS, top_k=2, backend="torch")
    onnx = engine.predict("rt-small", TEXTS, top_k=2, backend="onnx")
    assert [p.label for p in onnx] == [p.label for p in torch_]
    for a, b in zip(onnx, torch_, strict=True):
        assert a.probability == pytest.approx(b.probability, abs=1e-4)
    with pytest.raises(ConfigError, match="unknown backend 'tpu'"):
        engine.predict("rt-small", TEXTS, backend="tpu")


def test_predict_reads_image_files_for_an_image_model(engine: Engine, tmp_path: Path) -> None:
    from neuroplast.config import DataConfig
    from neuroplast.workflows import load_source

    data = DataConfig.model_validate(engine.registry.resolve("digits-mlp").config["data"])
    images = load_source(data).images[:3]  # type: ignore[union-attr]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(image[0]).save(paths[-1])
    from_files = engine.predict("digits-mlp", paths)
    from_array = engine.predict("digits-mlp", np.stack(images))
    assert [p.label for p in from_files] == [p.label for p in from_array]
    assert [p.probability for p in from_files] == pytest.approx(
        [p.probability for p in from_array], abs=1e-6
    )


def test_explain_with_faithfulness(engine: Engine) -> None:
    report = engine.explain("rt-small", TEXTS[:1], faithfulness=True, method="ig", n=30)
    assert report.ref == "rt-small:1" and report.method == "ig" and report.modality == "text"
    (explanation,) = report.texts
    assert len(explanation.tokens) == len(explanation.scores) > 3
    # integrated gradients: the scores add up to f(x) - f(PAD) (completeness)
    assert explanation.relative_delta is not None and explanation.relative_delta < 0.05
    (deletion,) = report.deletion
    assert deletion.method == "ig" and 0 < report.checked <= 30 and deletion.n == report.checked
    assert report.completeness is not None and report.completeness.n == report.checked
    html = report.html()
    assert html.startswith("<!DOCTYPE html>") and "Deletion test" in html and "witty" in html
    with pytest.raises(ConfigError, match="--n and --deleted must be at least 1"):
        engine.explain("rt-small", TEXTS, n=0)
    with pytest.raises(ConfigError, match="--out writes image overlays"):
        engine.explain("rt-small", TEXTS, overlay="x.png")


def test_bench_report_is_the_json_document(engine: Engine) -> None:
    report = engine.bench("rt-small", backend="torch", inputs=64, repeats=1)
    document = report.to_dict()
    assert document["command"] == "bench" and document["model"] == "rt-small:1"
    assert document["backend"] == "torch" and document["auto"] is None
    assert 0 < document["inputs"] <= 64 and report.flops_per_sample > 0
    assert document["achieved_fraction"] == pytest.approx(
        report.flops_per_sample * report.speed.predictor_batch.median / 1e9 / report.matmul_gflops
    )
    assert [row["batch_size"] for row in document["rows"]] == [1, report.speed.batch_size]


def test_compress_and_export_onnx_register_children(engine: Engine) -> None:
    compressed = engine.compress("rt-small:1", quantize="dynamic", test_limit=100)
    (version,) = compressed.versions
    assert version.parent == "rt-small:1" and compressed.to_dict()["registered"] == [version.ref]
    exported = engine.export_onnx("rt-small:1", measure=False)
    assert exported.version is not None and exported.version.parent == "rt-small:1"
    assert exported.to_dict()["files"] == ["model.onnx"]


def _members(path: Path) -> dict[str, int]:
    with tarfile.open(path) as tar:
        return {m.name: m.size for m in tar.getmembers()}


def test_export_bundle_and_its_former_name(engine: Engine, tmp_path: Path) -> None:
    bundle = engine.export_bundle("rt-small:1", tmp_path / "a.tar")
    assert bundle.stat().st_size > 0
    with pytest.raises(ConfigError, match="--force"):
        engine.export_bundle("rt-small:1", bundle)
    assert engine.export_bundle("rt-small:1", bundle, force=True) == bundle
    former = engine.export("rt-small:1", tmp_path / "b.tar")
    assert _members(former) == _members(bundle)
    imported = engine.import_bundle(former, name="rt-imported")
    assert imported.ref == "rt-imported:1"
