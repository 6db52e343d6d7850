import hashlib
from pathlib import Path

import pytest

from neuroplast.errors import ConfigError
from neuroplast.registry import Registry
from neuroplast.registry.artifacts import read_verified


def test_add_artifact(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    v = reg.create_version("m", architecture="a", task="classification", modality="text", config={})
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")

    v = reg.finalize_version(
        v.id, files={"x.bin": (f, hashlib.sha256(b"abc").hexdigest())}, params_count=1
    )
    size = v.size_bytes
    v2 = reg.add_artifact(v, "model.onnx", b"12345")
    assert (
        read_verified(v2.artifacts["model.onnx"].path, v2.artifacts["model.onnx"].sha256)
        == b"12345"
    )
    v3 = reg.add_artifact(v2, "model.onnx", b"12")
    assert v3.size_bytes == size + 2
    assert reg.resolve("m:1").artifacts["model.onnx"].size_bytes == 2
    with pytest.raises(ConfigError):
        reg.add_artifact(v3, "../x", b"")
