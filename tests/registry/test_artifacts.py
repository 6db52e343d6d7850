from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from neuroplast.errors import ArtifactError
from neuroplast.registry import (
    atomic_write_bytes,
    atomic_write_json,
    read_json_verified,
    read_safetensors_verified,
    save_safetensors,
    sha256_file,
)


def test_atomic_write_replaces_whole_files_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.bin"
    first = atomic_write_bytes(target, b"old")
    second = atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert first != second == sha256_file(target)
    assert [p.name for p in target.parent.iterdir()] == ["a.bin"]


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="file modes are POSIX")
def test_atomic_writes_get_the_mode_open_would_give_not_mkstemps_private_one(
    tmp_path: Path,
) -> None:
    """Other users of a shared registry read its artifacts (mkstemp alone makes them 0o600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_bytes(tmp_path / "w.bin", b"x")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    assert stat.S_IMODE((tmp_path / "w.bin").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~umask


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"v": object()})
    assert read_json_verified(target, None) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_safetensors_round_trip_and_hash_verification(tmp_path: Path) -> None:
    tensors = {"w": torch.arange(12.0).reshape(3, 4), "b": torch.ones(4)}
    path = tmp_path / "w.safetensors"
    sha = save_safetensors(path, tensors)
    loaded = read_safetensors_verified(path, sha)
    assert torch.equal(loaded["w"], tensors["w"]) and torch.equal(loaded["b"], tensors["b"])

    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"w.safetensors does not match its recorded sha256"):
        read_safetensors_verified(path, sha)

    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ArtifactError, match="does not match"):
        read_safetensors_verified(path, sha)
    with pytest.raises(ArtifactError, match="not a valid safetensors file"):
        read_safetensors_verified(path, None)


def test_missing_artifact_is_named(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"nothing.json is missing"):
        read_json_verified(tmp_path / "nothing.json", "0" * 64)
