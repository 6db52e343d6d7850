"""`neuroplast compare` end to end on scikit-learn's real 8x8 digits with two architectures
and two seeds, and its bad input."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from neuroplast.registry import Registry
from tests.conftest import Result, small_image_config

PNG = b"\x89PNG\r\n\x1a\n"


def _config(tmp_path: Path) -> Path:
    config = small_image_config("dg-cmp", epochs=1)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_compare_two_architectures_over_two_seeds(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    args = ["--architectures", "image_mlp,image_cnn", "--seeds", "2", "-o", str(out)]
    result = cli("compare", str(_config(tmp_path)), *args, "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["seeds"] == [5, 6] and list(doc["architectures"]) == ["image_mlp", "image_cnn"]
    runs = doc["runs"]
    pairs = [(r["architecture"], r["seed"]) for r in runs]
    assert pairs == [("image_mlp", 5), ("image_mlp", 6), ("image_cnn", 5), ("image_cnn", 6)]
    for arch, row in doc["architectures"].items():
        mine = [r for r in runs if r["architecture"] == arch]
        accuracy = [r["accuracy"] for r in mine]
        assert row["accuracy"]["mean"] == pytest.approx(sum(accuracy) / 2)
        assert row["accuracy"]["std"] == pytest.approx(abs(accuracy[0] - accuracy[1]) / 2**0.5)
        assert row["params"]["std"] == 0  # the same architecture whatever the seed
        assert row["latency_ms"]["mean"] > 0 and row["throughput"]["mean"] > 0
        assert 0 < row["size_int8_mb"]["mean"] <= 1.05 * row["size_fp32_mb"]["mean"]
    # the MLP's Linear layers shrink with int8 (the CNN's convolutions stay fp32)
    mlp = doc["architectures"]["image_mlp"]
    assert mlp["size_int8_mb"]["mean"] < 0.5 * mlp["size_fp32_mb"]["mean"]
    assert doc["recommendation"].startswith("most accurate: ")
    assert "Recommended: " in doc["recommendation"]

    with Registry(home) as registry:  # every training is a registered version
        refs = sorted(v.ref for v in registry.versions("dg-cmp-image_cnn"))
        assert refs == ["dg-cmp-image_cnn:1", "dg-cmp-image_cnn:2"]
        assert registry.resolve(runs[0]["version"]).architecture == "image_mlp"

    table = (out / "table.md").read_text()
    assert table.splitlines()[0].startswith("| architecture | parameters | train time (s)")
    assert "| image_mlp | " in table and " ± " in table and "Recommended: " in table
    rows = list(csv.DictReader(io.StringIO((out / "table.csv").read_text())))
    assert [r["architecture"] for r in rows] == ["image_mlp", "image_cnn"]
    assert float(rows[0]["accuracy_mean"]) == pytest.approx(
        doc["architectures"]["image_mlp"]["accuracy"]["mean"], rel=1e-5
    )
    assert (out / "accuracy_latency.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--architectures", "image_mlp,resnet9"], "unknown architecture 'resnet9'"),
        (["--architectures", "image_mlp,lstm"], "lstm takes text inputs"),
        (["--architectures", "image_cnn,image_cnn"], "names one twice"),
        (["--format", "xml"], "--format 'xml'"),
    ],
)
def test_compare_bad_input(
    cli: Callable[..., Result], home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli("compare", str(_config(tmp_path)), *args)
    assert result.code == 2 and message in result.err, result.err
    assert not (home / "comparisons").exists()  # nothing trained, nothing stored
